using BenchmarkDotNet.Attributes;

namespace TimeoutBudget.Benchmarks;

/// <summary>
/// Where a child's time goes: the unavoidable parts of any per-call timeout that links to its caller and can report how
/// much time is left, each measured alone. Their sum is the floor the happy-path targets are judged against.
/// </summary>
[MemoryDiagnoser]
public class PartsBenchmarks
{
    private CancellationTokenSource _outer = null!;
    private CancellationTokenSource _source = null!;
    private ITimer _timer = null!;
    private Budget _root = null!;

    [GlobalSetup]
    public void Setup()
    {
        _outer = new CancellationTokenSource(TimeSpan.FromHours(1));
        _source = new CancellationTokenSource();
        _timer = TimeProvider.System.CreateTimer(static _ => { }, null, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        _root = Budget.Start("request", TimeSpan.FromHours(1));
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _timer.Dispose();
        _source.Dispose();
        _outer.Dispose();
        _root.Dispose();
    }

    /// <summary>The precise clock every budget reads once to know its start (and its deadline).</summary>
    [Benchmark(Baseline = true, Description = "clock: TimeProvider.System.GetTimestamp()")]
    public long Clock() => TimeProvider.System.GetTimestamp();

    /// <summary>The coarse clock a timer decides on.</summary>
    [Benchmark(Description = "coarse clock: Environment.TickCount64")]
    public long CoarseClock() => Environment.TickCount64;

    /// <summary>Arming and disarming a system timer: what CancelAfter does under the hood.</summary>
    [Benchmark(Description = "timer: Change(10 s) + Change(infinite)")]
    public bool ArmAndDisarm()
    {
        _timer.Change(HappyPathBenchmarks.CallTimeout, Timeout.InfiniteTimeSpan);
        return _timer.Change(Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
    }

    /// <summary>Linking to the caller's token and unlinking again.</summary>
    [Benchmark(Description = "link: UnsafeRegister + Dispose")]
    public bool LinkAndUnlink()
    {
        var link = _outer.Token.UnsafeRegister(static state => ((CancellationTokenSource)state!).Cancel(), _source);
        return link.Unregister();
    }

    /// <summary>Resetting a source for reuse.</summary>
    [Benchmark(Description = "reuse: CancellationTokenSource.TryReset()")]
    public bool Reset() => _source.TryReset();

    /// <summary>Reading the ambient budget's expired state: the layer check a child does before it opens.</summary>
    [Benchmark(Description = "check: root.IsExpired")]
    public bool LayerCheck() => _root.IsExpired;
}
