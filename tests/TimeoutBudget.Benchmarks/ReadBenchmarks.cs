using System.Diagnostics;
using BenchmarkDotNet.Attributes;

namespace TimeoutBudget.Benchmarks;

/// <summary>Issue 7, benchmark 2: reading a live budget, against one read of the clock (the physical floor).</summary>
[MemoryDiagnoser]
public class ReadBenchmarks
{
    private Budget _root = null!;
    private Budget _budget = null!;

    [GlobalSetup]
    public void Setup()
    {
        _root = Budget.Start("request", TimeSpan.FromHours(1));
        _budget = _root.Child("dependency", TimeSpan.FromMinutes(30));
        if (!ReferenceEquals(Budget.Current, _budget))
        {
            throw new InvalidOperationException("Budget.Current is not the budget opened in setup; the Current benchmark would measure the wrong path.");
        }
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _budget.Dispose();
        _root.Dispose();
    }

    [Benchmark(Baseline = true, Description = "TimeProvider.System.GetTimestamp()")]
    public long ClockRead() => TimeProvider.System.GetTimestamp();

    [Benchmark(Description = "Stopwatch.GetTimestamp()")]
    public long StopwatchRead() => Stopwatch.GetTimestamp();

    [Benchmark(Description = "budget.Remaining")]
    public TimeSpan Remaining() => _budget.Remaining;

    [Benchmark(Description = "budget.IsExpired")]
    public bool IsExpired() => _budget.IsExpired;

    [Benchmark(Description = "Budget.Current")]
    public Budget? Current() => Budget.Current;

    [Benchmark(Description = "budget.Token")]
    public CancellationToken Token() => _budget.Token;
}
