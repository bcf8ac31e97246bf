using BenchmarkDotNet.Attributes;

namespace TimeoutBudget.Benchmarks;

/// <summary>Issue 7, benchmark 5: the monitor's sweep over 100,000 live budgets (none overdue: the steady state).</summary>
/// <remarks>Whether a sweep blocks callers is measured by the <c>scale</c> mode, which times callers while sweeping.</remarks>
[MemoryDiagnoser]
public class SweepBenchmarks
{
    private Budget[] _live = Array.Empty<Budget>();
    private BudgetMonitor _monitor = null!;
    private Budget _root = null!;

    /// <summary>Live budgets in the ledger.</summary>
    [Params(100_000)]
    public int Live { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _monitor = new BudgetMonitor(capacity: Live + 1);
        _root = Budget.Start("request", TimeSpan.FromHours(2), new BudgetOptions { Monitor = _monitor });
        _live = new Budget[Live];
        for (var i = 0; i < _live.Length; i++)
        {
            _live[i] = _root.Child("dependency", TimeSpan.FromHours(1));
        }
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        for (var i = _live.Length - 1; i >= 0; i--)
        {
            _live[i].Dispose();
        }

        _root.Dispose();
        _monitor.Dispose();
    }

    [Benchmark(Description = "BudgetMonitor.Sweep()")]
    public int Sweep() => _monitor.Sweep();

    [Benchmark(Description = "BudgetMonitor.GetOverdue()")]
    public int GetOverdue() => _monitor.GetOverdue().Count;

    [Benchmark(Description = "BudgetMonitor.OrphanCount")]
    public int OrphanCount() => _monitor.OrphanCount;
}
