using BenchmarkDotNet.Attributes;

namespace TimeoutBudget.Benchmarks;

/// <summary>
/// Issue 15, seventh slice: what the deadline scheduler's lock costs. Every child takes it twice (to open and to end),
/// so two holds are measured, each around one plain increment, for the locks .NET offers and for the scheduler's own gate.
/// </summary>
[MemoryDiagnoser]
public class GateBenchmarks
{
    private readonly Lock _lock = new();
    private readonly object _monitor = new();
    private readonly SchedulerGate _gate = new();
    private SpinLock _spinLock = new(enableThreadOwnerTracking: false);
    private int _counter;

    /// <summary>What the scheduler used before: <see cref="Lock"/>, whose exit is a second interlocked operation.</summary>
    [Benchmark(Baseline = true, Description = "two holds: System.Threading.Lock")]
    public int TwoLockHolds()
    {
        lock (_lock)
        {
            _counter++;
        }

        lock (_lock)
        {
            _counter++;
        }

        return _counter;
    }

    /// <summary><c>lock</c> on a plain object (<see cref="Monitor"/>).</summary>
    [Benchmark(Description = "two holds: Monitor")]
    public int TwoMonitorHolds()
    {
        lock (_monitor)
        {
            _counter++;
        }

        lock (_monitor)
        {
            _counter++;
        }

        return _counter;
    }

    /// <summary><see cref="SpinLock"/> without owner tracking, left without a fence.</summary>
    [Benchmark(Description = "two holds: SpinLock (no owner tracking)")]
    public int TwoSpinLockHolds()
    {
        var taken = false;
        _spinLock.Enter(ref taken);
        _counter++;
        _spinLock.Exit(useMemoryBarrier: false);
        taken = false;
        _spinLock.Enter(ref taken);
        _counter++;
        _spinLock.Exit(useMemoryBarrier: false);
        return _counter;
    }

    /// <summary>The scheduler's gate: a compare-exchange in, a release store out.</summary>
    [Benchmark(Description = "two holds: SchedulerGate")]
    public int TwoGateHolds()
    {
        using (_gate.Enter())
        {
            _counter++;
        }

        using (_gate.Enter())
        {
            _counter++;
        }

        return _counter;
    }
}
