using System.Collections.Concurrent;
using System.Diagnostics;
using Microsoft.Extensions.Logging;

namespace TimeoutBudget;

/// <summary>
/// The abandoned-work ledger: tracks live budgets and knows which passed their deadline while their work goes on —
/// the SDK call that kept a pool thread busy after the wait around it gave up, the run stuck in "running" forever.
/// </summary>
/// <remarks>
/// Pass one monitor to <see cref="BudgetOptions.Monitor"/>. A budget is live from the moment it opens until it is
/// disposed and every run started with <see cref="Budget.RunAsync{T}"/> has really ended (not just been given up on).
/// The ledger holds at most <see cref="Capacity"/> entries; budgets beyond that are counted in <see cref="Untracked"/>
/// instead, so it never grows without bound.
/// </remarks>
public sealed class BudgetMonitor : IDisposable
{
    /// <summary>The most layers for which post-deadline totals are kept separately; the rest are added up under <c>"(other)"</c>.</summary>
    public const int MaxLayers = 1024;

    private readonly ConcurrentDictionary<Entry, byte> _live = new();
    private readonly ConcurrentDictionary<string, double> _postDeadlineSeconds = new(StringComparer.Ordinal);
    private readonly List<ITimer> _sweepers = new();
    private readonly TimeProvider _time;
    private readonly ILogger? _logger;
    private long _untracked;
    private long _endedLate;
    private int _count;
    private bool _disposed;

    /// <summary>Creates a monitor.</summary>
    /// <param name="timeProvider">The clock used to judge lateness; <see cref="TimeProvider.System"/> when null. Use the same one as the budgets.</param>
    /// <param name="capacity">The most budgets tracked at once; default 100,000.</param>
    /// <param name="loggerFactory">Where overdue work is logged; none when null.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="capacity"/> is not positive.</exception>
    public BudgetMonitor(TimeProvider? timeProvider = null, int capacity = 100_000, ILoggerFactory? loggerFactory = null)
    {
        if (capacity <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(capacity), capacity, "The monitor's capacity must be positive.");
        }

        _time = timeProvider ?? TimeProvider.System;
        Capacity = capacity;
        _logger = loggerFactory?.CreateLogger("TimeoutBudget.Monitor");
    }

    /// <summary>The most budgets tracked at once.</summary>
    public int Capacity { get; }

    /// <summary>Budgets open or with work still running.</summary>
    public int LiveCount => Volatile.Read(ref _count);

    /// <summary>Budgets that could not be tracked because the ledger was full.</summary>
    public long Untracked => Interlocked.Read(ref _untracked);

    /// <summary>Budgets whose work ended after their deadline had passed.</summary>
    public long EndedLate => Interlocked.Read(ref _endedLate);

    /// <summary>Work past its deadline that has not ended, right now: the orphans in flight.</summary>
    public int OrphanCount
    {
        get
        {
            var now = _time.GetTimestamp();
            var count = 0;
            foreach (var (entry, _) in _live)
            {
                if (now > entry.Budget.LateAfterTimestamp)
                {
                    count++;
                }
            }

            return count;
        }
    }

    /// <summary>Seconds of work that kept running after its deadline, per layer, counted when that work ended.</summary>
    public IReadOnlyDictionary<string, TimeSpan> PostDeadlineTotals =>
        _postDeadlineSeconds.ToDictionary(pair => pair.Key, pair => TimeSpan.FromSeconds(pair.Value), StringComparer.Ordinal);

    /// <summary>Every budget past its deadline whose work has not ended, most overdue first.</summary>
    /// <returns>A snapshot.</returns>
    public IReadOnlyList<OverdueWork> GetOverdue()
    {
        var now = _time.GetTimestamp();
        var overdue = new List<OverdueWork>();
        foreach (var (entry, _) in _live)
        {
            if (now > entry.Budget.LateAfterTimestamp)
            {
                overdue.Add(Describe(entry.Budget, now));
            }
        }

        overdue.Sort(static (a, b) => b.Overdue.CompareTo(a.Overdue));
        return overdue;
    }

    /// <summary>
    /// Finds work that has become overdue since the last sweep, reports each item once (metric, log) and hands it to
    /// <paramref name="onOverdue"/> — for example to mark the run "timed out" in its store.
    /// </summary>
    /// <param name="onOverdue">Called once per newly overdue item; exceptions it throws are logged and swallowed.</param>
    /// <returns>How many items became overdue since the last sweep.</returns>
    public int Sweep(Action<OverdueWork>? onOverdue = null)
    {
        var now = _time.GetTimestamp();
        var found = 0;
        foreach (var (entry, _) in _live)
        {
            if (now <= entry.Budget.LateAfterTimestamp || Interlocked.Exchange(ref entry.Reported, 1) != 0)
            {
                continue;
            }

            found++;
            var work = Describe(entry.Budget, now);
            BudgetTelemetry.OrphanCounter.Add(1, new KeyValuePair<string, object?>("layer", work.Layer));
            if (_logger is not null)
            {
                BudgetTelemetry.LogOverdue(_logger, work.Path, DurationText.Format(work.Overdue));
            }

            if (onOverdue is not null)
            {
                try
                {
                    onOverdue(work);
                }
                catch (Exception exception) when (exception is not OutOfMemoryException)
                {
                    Trace.TraceError($"TimeoutBudget: the overdue callback threw for {work.Path}: {exception}");
                }
            }
        }

        return found;
    }

    /// <summary>Sweeps every <paramref name="interval"/> on the monitor's clock until the returned handle or the monitor is disposed.</summary>
    /// <param name="interval">Time between sweeps; positive.</param>
    /// <param name="onOverdue">Called once per newly overdue item.</param>
    /// <returns>Disposing it stops this sweep.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="interval"/> is not positive or is infinite.</exception>
    public IDisposable StartSweeping(TimeSpan interval, Action<OverdueWork> onOverdue)
    {
        ArgumentNullException.ThrowIfNull(onOverdue);
        if (interval <= TimeSpan.Zero || interval > BudgetOptions.MaxTimeoutLimit)
        {
            throw new ArgumentOutOfRangeException(nameof(interval), interval, "The sweep interval must be positive and at most 49 days.");
        }

        ITimer timer;
        using (ExecutionContext.SuppressFlow())
        {
            timer = _time.CreateTimer(_ => Sweep(onOverdue), null, interval, interval);
        }

        lock (_sweepers)
        {
            if (_disposed)
            {
                timer.Dispose();
                throw new ObjectDisposedException(nameof(BudgetMonitor));
            }

            _sweepers.Add(timer);
        }

        return timer;
    }

    /// <summary>Stops every periodic sweep. Budgets keep working; they are simply no longer swept.</summary>
    public void Dispose()
    {
        lock (_sweepers)
        {
            _disposed = true;
            foreach (var timer in _sweepers)
            {
                timer.Dispose();
            }

            _sweepers.Clear();
        }
    }

    internal void Track(Budget budget)
    {
        if (Interlocked.Increment(ref _count) > Capacity)
        {
            Interlocked.Decrement(ref _count);
            Interlocked.Increment(ref _untracked);
            return;
        }

        var entry = new Entry(budget);
        budget.MonitorEntry = entry;
        _live.TryAdd(entry, 0);
    }

    internal void Complete(Budget budget)
    {
        if (budget.MonitorEntry is not { } entry || !_live.TryRemove(entry, out _))
        {
            return;
        }

        try
        {
            var now = _time.GetTimestamp();
            var deadline = budget.LateAfterTimestamp;
            if (Volatile.Read(ref entry.Reported) != 0)
            {
                BudgetTelemetry.OrphanCounter.Add(-1, new KeyValuePair<string, object?>("layer", budget.Layer));
            }

            if (now <= deadline)
            {
                return;
            }

            Interlocked.Increment(ref _endedLate);
            var late = _time.GetElapsedTime(deadline, now).TotalSeconds;
            BudgetTelemetry.PostDeadlineCounter.Add(late, new KeyValuePair<string, object?>("layer", budget.Layer));
            var key = _postDeadlineSeconds.Count < MaxLayers || _postDeadlineSeconds.ContainsKey(budget.Layer) ? budget.Layer : "(other)";
            _postDeadlineSeconds.AddOrUpdate(key, late, (_, total) => total + late);
        }
        finally
        {
            // Counted down last: once LiveCount says the work has ended, its lateness is already in the totals.
            Interlocked.Decrement(ref _count);
        }
    }

    private OverdueWork Describe(Budget budget, long now) =>
        new(budget, _time.GetElapsedTime(budget.LateAfterTimestamp, now));

    internal sealed class Entry
    {
        public readonly Budget Budget;
        public int Reported;

        public Entry(Budget budget) => Budget = budget;
    }
}

/// <summary>A budget past its deadline whose work has not ended.</summary>
public sealed class OverdueWork
{
    internal OverdueWork(Budget budget, TimeSpan overdue)
    {
        Budget = budget;
        Overdue = overdue;
    }

    /// <summary>The budget.</summary>
    public Budget Budget { get; }

    /// <summary>The budget's layer.</summary>
    public string Layer => Budget.Layer;

    /// <summary>The budget's path.</summary>
    public string Path => Budget.Path;

    /// <summary>The application data attached with <see cref="Budget.Tag"/>, e.g. a run id.</summary>
    public object? Tag => Budget.Tag;

    /// <summary>The deadline that passed: the budget's own, or the earlier one of the budget it was opened inside.</summary>
    public DateTimeOffset Deadline => Budget.Deadline;

    /// <summary>How long past the deadline the work was when observed.</summary>
    public TimeSpan Overdue { get; }

    /// <summary>The path and how overdue it is.</summary>
    /// <returns>The text.</returns>
    public override string ToString() => $"{Path} is {DurationText.Format(Overdue)} overdue";
}
