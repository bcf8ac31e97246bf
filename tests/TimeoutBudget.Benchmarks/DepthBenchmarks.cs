using BenchmarkDotNet.Attributes;

namespace TimeoutBudget.Benchmarks;

/// <summary>Issue 7, benchmark 3: the cost of opening (and disposing) one child at nesting depth 1, 4 and 16.</summary>
[MemoryDiagnoser]
public class DepthBenchmarks
{
    private readonly List<Budget> _chain = new();
    private Budget _parent = null!;

    /// <summary>The depth of the child opened: 1 is a child of the root.</summary>
    [Params(1, 4, 16)]
    public int Depth { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _parent = Budget.Start("request", TimeSpan.FromHours(1));
        _chain.Add(_parent);
        for (var level = 1; level < Depth; level++)
        {
            _parent = _parent.Child("l" + level, Timeout.InfiniteTimeSpan);
            _chain.Add(_parent);
        }
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        for (var i = _chain.Count - 1; i >= 0; i--)
        {
            _chain[i].Dispose();
        }

        _chain.Clear();
    }

    [Benchmark(Description = "Child + Token + Dispose at depth")]
    public bool ChildAtDepth()
    {
        using var child = _parent.Child("dependency", HappyPathBenchmarks.CallTimeout);
        return child.Token.CanBeCanceled;
    }
}
