using BenchmarkDotNet.Attributes;

namespace TimeoutBudget.Benchmarks;

/// <summary>
/// Issue 15: budgets used only through their clock (<see cref="Budget.Remaining"/>, <see cref="Budget.ThrowIfExpired"/>,
/// <see cref="Budget.Fits"/>), never asked for a token, next to the same child asked for its token. The lazy-token target
/// says such a budget should need no cancellation source and no timer; docs/performance.md records what a first attempt
/// at it measured.
/// </summary>
[MemoryDiagnoser]
public class LazyTokenBenchmarks
{
    private Budget _root = null!;

    [GlobalSetup]
    public void Setup() => _root = Budget.Start("request", TimeSpan.FromHours(1));

    [GlobalCleanup]
    public void Cleanup() => _root.Dispose();

    /// <summary>The reference: a detached child whose token is read (a source and a timer are needed).</summary>
    [Benchmark(Baseline = true, Description = "DetachedChild + Token + Dispose")]
    public bool DetachedChildToken()
    {
        using var child = _root.DetachedChild("dependency", HappyPathBenchmarks.CallTimeout);
        return child.Token.CanBeCanceled;
    }

    /// <summary>A detached child only asked how much time it has left (e.g. to pass as an SDK's timeout).</summary>
    [Benchmark(Description = "DetachedChild + Remaining + Dispose")]
    public TimeSpan DetachedChildRemaining()
    {
        using var child = _root.DetachedChild("dependency", HappyPathBenchmarks.CallTimeout);
        return child.Remaining;
    }

    /// <summary>An ambient child checked before the work and asked whether an attempt fits.</summary>
    [Benchmark(Description = "Child + ThrowIfExpired + Fits + Dispose")]
    public bool ChildCheckAndFits()
    {
        using var child = _root.Child("dependency", HappyPathBenchmarks.CallTimeout);
        child.ThrowIfExpired();
        return child.Fits(TimeSpan.FromSeconds(1));
    }

    /// <summary>A root (e.g. a request's) that only hands out children and is never asked for its token.</summary>
    [Benchmark(Description = "Start root + DetachedChild + Token + Dispose both")]
    public bool RootAndChild()
    {
        using var root = Budget.Start("request", TimeSpan.FromSeconds(30));
        using var child = root.DetachedChild("dependency", HappyPathBenchmarks.CallTimeout);
        return child.Token.CanBeCanceled;
    }
}
