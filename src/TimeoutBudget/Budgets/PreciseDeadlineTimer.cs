using System.Diagnostics;

namespace TimeoutBudget;

/// <summary>
/// The system clock's wake-up for <see cref="DeadlineScheduler"/>: one background thread that waits for the earliest
/// deadline by the precise clock and then hands the scheduler's callback to the thread pool.
/// </summary>
/// <remarks>
/// <para>Why not a <see cref="TimeProvider.System"/> timer: the runtime's timer queue decides what is due by
/// <see cref="Environment.TickCount64"/>, which on Linux is a coarse clock (it moved about every 5 ms on the project's
/// machine). A timer chained from its own callback for the next deadline, the scheduler's pattern, therefore fires on
/// that coarse tick: measured 2.0 ms late at the median and 4.5 ms at p99 for deadlines 1 ms apart, where a timed wait
/// (which the kernel times by the precise clock) was 0.6 ms late at the median and 1.1–1.9 ms at p99 — and
/// never early in either case, while raw timers fired early for 64–72 % of the same deadlines (issue 15, sixth slice,
/// docs/performance.md).</para>
/// <para>The callback runs on the thread pool, as a timer's does, so a token callback that blocks holds up one pool
/// thread and not every later expiry, and an exception from it is unhandled as from a timer callback.</para>
/// </remarks>
internal sealed class PreciseDeadlineTimer : IDisposable
{
    /// <summary>
    /// How close to the deadline the thread stops waiting and spins instead. A timed wait wakes about 0.1 ms after what
    /// it asked for and counts whole milliseconds, so a deadline 0.05 ms into a millisecond otherwise costs a wait for
    /// the rest of that millisecond. 100 µs bounds the CPU a wake-up can burn; 200 and 300 µs, measured alongside, were no
    /// better at p99 (0.85–2.55 ms against 1.06–2.27 ms for 1-ms-apart deadlines) and spun longer.
    /// </summary>
    internal static readonly long SpinTicks = Math.Max(1, Stopwatch.Frequency / 10_000);

    // Stopwatch's frequency is 10^9 on Linux and macOS and 10^7 on Windows: a whole number of ticks per millisecond.
    private static readonly long TicksPerMillisecond = Math.Max(1, Stopwatch.Frequency / 1_000);

    // At most one firing per millisecond, as the runtime's own timers count: with 100,000 deadlines a second, firing
    // (and spinning) for each deadline as it came burnt 2.2 s of CPU in a 2-s window, mostly thread-pool workers woken
    // for a handful of budgets each, against 0.35–0.42 s for the runtime timer (issue 15, sixth slice). After a firing, what
    // comes due within the millisecond waits for the next one, together.
    private static readonly long GapTicks = TicksPerMillisecond;

    private readonly Action<object> _callback;
    private readonly object _state;
    private readonly object _gate = new();
    private readonly Thread _thread;

    // The precise timestamp to fire at (Stopwatch's, which TimeProvider.System reads), or long.MaxValue when disarmed.
    private long _due = long.MaxValue;
    private bool _disposed;
    private int _firings;
    private long _waitingFor = long.MaxValue;

    /// <summary>Starts the thread, disarmed.</summary>
    /// <param name="callback">Queued to the thread pool with <paramref name="state"/> once the armed deadline has passed.</param>
    /// <param name="state">The callback's argument.</param>
    public PreciseDeadlineTimer(Action<object> callback, object state)
    {
        _callback = callback;
        _state = state;
        _thread = new Thread(static timer => ((PreciseDeadlineTimer)timer!).Run())
        {
            IsBackground = true,
            Name = "TimeoutBudget deadlines",
        };

        // The thread outlives the flow that created it: it must not capture that flow's execution context.
        _thread.UnsafeStart(this);
    }

    /// <summary>The thread that waits for the deadlines (for tests).</summary>
    internal Thread Thread => _thread;

    /// <summary>How many times the callback was queued (for tests).</summary>
    internal int Firings => Volatile.Read(ref _firings);

    /// <summary>
    /// The deadline the thread last began to wait for (for tests): set under the lock it releases in that wait, so whoever
    /// takes the lock after seeing it knows the thread is inside the wait.
    /// </summary>
    internal long WaitingFor => Volatile.Read(ref _waitingFor);

    /// <summary>
    /// What the thread does next for a deadline <paramref name="due"/> at <paramref name="now"/>, having last fired at
    /// <paramref name="lastFiring"/>: 0 when the deadline is due or within <paramref name="spinTicks"/> of it (spin the
    /// rest, then fire), <see cref="Timeout.Infinite"/> when nothing is armed, otherwise how many milliseconds to wait
    /// before looking again.
    /// </summary>
    /// <remarks>
    /// Within <paramref name="gapTicks"/> of the last firing the thread waits out the gap, rounded up to whole
    /// milliseconds, and does not spin. Otherwise, more than a millisecond before the deadline, the wait is the whole
    /// milliseconds before it, rounded down, so the thread wakes inside the deadline's last millisecond and either spins
    /// the rest or waits one more; less than that, one millisecond. A wait never ends the deadline by itself: the thread
    /// always looks at the clock again.
    /// </remarks>
    internal static int WaitMilliseconds(long due, long now, long lastFiring, long ticksPerMillisecond, long spinTicks, long gapTicks)
    {
        if (due == long.MaxValue)
        {
            return Timeout.Infinite;
        }

        var sinceFiring = now - lastFiring;
        if (sinceFiring < gapTicks)
        {
            var gapLeft = gapTicks - sinceFiring;
            return (int)Math.Clamp((gapLeft + ticksPerMillisecond - 1) / ticksPerMillisecond, 1, int.MaxValue);
        }

        var left = due - now;
        if (left <= spinTicks)
        {
            return 0;
        }

        return (int)Math.Clamp(left / ticksPerMillisecond, 1, int.MaxValue);
    }

    /// <summary>Arms for <paramref name="due"/> (a <see cref="Stopwatch"/> timestamp), replacing what was armed.</summary>
    public void ArmAt(long due)
    {
        lock (_gate)
        {
            var earlier = due < _due;
            _due = due;

            // A later deadline needs no wake-up: the thread wakes for the earlier one, finds it moved, and waits again.
            if (earlier)
            {
                Monitor.Pulse(_gate);
            }
        }
    }

    /// <summary>Ends the thread (the shared system-clock scheduler never does; an unshared one in tests does).</summary>
    public void Dispose()
    {
        lock (_gate)
        {
            _disposed = true;
            Monitor.Pulse(_gate);
        }
    }

    private void Run()
    {
        var lastFiring = Stopwatch.GetTimestamp() - GapTicks;
        while (true)
        {
            long due;
            lock (_gate)
            {
                while (true)
                {
                    if (_disposed)
                    {
                        return;
                    }

                    var wait = WaitMilliseconds(_due, Stopwatch.GetTimestamp(), lastFiring, TicksPerMillisecond, SpinTicks, GapTicks);
                    if (wait == 0)
                    {
                        break;
                    }

                    Volatile.Write(ref _waitingFor, _due);
                    Monitor.Wait(_gate, wait);
                }

                due = _due;
                _due = long.MaxValue;
            }

            // At most SpinTicks: never past the deadline, and the callback reads the clock again before expiring anything.
            if (Stopwatch.GetTimestamp() < due)
            {
                var spinner = default(SpinWait);
                while (Stopwatch.GetTimestamp() < due)
                {
                    // -1: never fall back to Thread.Sleep(1), which would cost the millisecond the spin is saving.
                    spinner.SpinOnce(sleep1Threshold: -1);
                }
            }

            lastFiring = Stopwatch.GetTimestamp();
            Interlocked.Increment(ref _firings);
            ThreadPool.UnsafeQueueUserWorkItem(_callback, _state, preferLocal: false);
        }
    }
}
