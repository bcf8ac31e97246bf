using Microsoft.Extensions.ObjectPool;

namespace TimeoutBudget;

/// <summary>
/// The cancellation source and timer behind one open budget, reused by the next budget once this one ends cleanly:
/// opening a child then allocates nothing but the budget itself.
/// </summary>
/// <remarks>
/// A lease goes back to the pool only when nothing can still reach it through its old owner: the owner's source was
/// never cancelled (so <see cref="CancellationTokenSource.TryReset"/> succeeds), no run of the owner's work is still
/// going, and the timer, stopped, can no longer have a callback in flight for the old owner (see <see cref="TryRelease"/>).
/// </remarks>
internal sealed class TokenLease : IDisposable
{
    // How long before its due time a stopped timer could still have a callback under way: the timer queue decides on
    // a coarse clock, our deadline is on the precise one.
    private const long SafetyMilliseconds = 50;

    private readonly TimeProvider _time;
    private readonly bool _systemClock;
    private readonly long _safetyTicks;
    private Budget? _owner;
    private long _due;

    public TokenLease(TimeProvider time)
    {
        _time = time;
        _systemClock = ReferenceEquals(time, TimeProvider.System);
        _safetyTicks = (long)(SafetyMilliseconds * (time.TimestampFrequency / 1000.0));

        // A pooled lease outlives the flow that created it: its timer must not capture (and keep alive) that flow's
        // execution context, ambient budgets included.
        var restoreFlow = !ExecutionContext.IsFlowSuppressed();
        if (restoreFlow)
        {
            ExecutionContext.SuppressFlow();
        }

        try
        {
            Timer = time.CreateTimer(static state => ((TokenLease)state!).OnTimer(), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        }
        finally
        {
            if (restoreFlow)
            {
                ExecutionContext.RestoreFlow();
            }
        }
    }

    public CancellationTokenSource Source { get; } = new();

    public ITimer Timer { get; }

    /// <summary>Starts the owner's countdown.</summary>
    public void Arm(Budget owner, TimeSpan window, long deadlineTimestamp)
    {
        Volatile.Write(ref _owner, owner);
        // The system timer queue fires by Environment.TickCount64; other clocks fire by their own timestamps.
        _due = _systemClock ? Environment.TickCount64 + (long)window.TotalMilliseconds : deadlineTimestamp;
        Timer.Change(window, Timeout.InfiniteTimeSpan);
    }

    /// <summary>Stops the timer and, when no callback can still be on its way to the old owner, makes the lease reusable.</summary>
    /// <returns>Whether the lease may go back to the pool; when false it must be disposed (its source stays with the old owner's token).</returns>
    public bool TryRelease()
    {
        Timer.Change(Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);

        // Read after the timer stopped: a callback dispatched before that needed the clock past its due time, and clocks
        // do not go back, so a clock still short of it (by the safety gap) proves no callback is under way.
        var now = _systemClock ? Environment.TickCount64 : _time.GetTimestamp();
        var safety = _systemClock ? SafetyMilliseconds : _safetyTicks;
        if (now >= _due - safety || !Source.TryReset())
        {
            return false;
        }

        Volatile.Write(ref _owner, null);
        return true;
    }

    /// <summary>Releases the timer. The source is never disposed: abandoned work may still hold its token.</summary>
    public void Dispose() => Timer.Dispose();

    private void OnTimer() => Volatile.Read(ref _owner)?.OnTimer();

    /// <summary>Leases for the budgets of one <see cref="BudgetOptions"/> (one clock).</summary>
    internal sealed class Pool : PooledObjectPolicy<TokenLease>
    {
        private readonly TimeProvider _time;

        private Pool(TimeProvider time) => _time = time;

        public static ObjectPool<TokenLease> For(TimeProvider time) =>
            new DefaultObjectPoolProvider { MaximumRetained = Environment.ProcessorCount * 4 }.Create(new Pool(time));

        public override TokenLease Create() => new(_time);

        public override bool Return(TokenLease lease) => true;
    }
}
