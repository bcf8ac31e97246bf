using System.Runtime.CompilerServices;

namespace TimeoutBudget;

/// <summary>
/// The open budgets of one <see cref="TimeProvider"/>, ordered by deadline, behind one timer armed for the earliest:
/// a budget costs a heap entry instead of a timer of its own, and its token needs no timer, so it can be created lazily.
/// </summary>
/// <remarks>
/// <para>An entry is 16 B (deadline, budget); the opening sequence that orders equal deadlines is kept in the budget.
/// Opening inserts in O(log n) (O(1) when deadlines arrive in order, as they do for equal timeouts); disposing
/// removes in O(log n), in a 4-ary heap. The timer is re-armed on insert only when the new deadline is the earliest, and never on
/// removal: a timer that fires for a deadline no longer there just re-arms for the next one.</para>
/// <para>A budget is expired only once the precise clock has reached its deadline: a timer that fires early (timers
/// count whole milliseconds on a coarser clock) re-arms for the rest. Due budgets are taken off the heap a batch at a
/// time and expired outside the lock, in deadline order (ties in the order they opened), so a long sweep never holds
/// openers up for more than one batch.</para>
/// </remarks>
internal sealed class DeadlineScheduler
{
    // Bounds how long the expiry path holds the lock: openers wait for at most this many heap removals.
    private const int ExpiryBatch = 64;
    private const int MinimumCapacity = 16;

    // A 4-ary heap: half the levels of a binary one, so a removal from a million entries moves 10 entries (and writes
    // 10 budgets' heap index, each a likely cache miss) instead of 20; the four children sit side by side in the array.
    private const int Arity = 4;

    private static readonly ConditionalWeakTable<TimeProvider, DeadlineScheduler> Schedulers = new();

    private readonly TimeProvider _time;
    private readonly bool _systemClock;
    private readonly ITimer _timer;
#if NET9_0_OR_GREATER
    private readonly Lock _gate = new();
#else
    private readonly object _gate = new();
#endif
    private Entry[] _heap = new Entry[MinimumCapacity];
    private int _count;
    private int _sequence;

    // The deadline the timer is armed for, or long.MaxValue when it is not. Once that deadline has passed, a callback
    // is on its way that will re-arm for whatever is earliest then.
    private long _armedFor = long.MaxValue;

    private DeadlineScheduler(TimeProvider time)
    {
        _time = time;
        _systemClock = ReferenceEquals(time, TimeProvider.System);

        // The scheduler outlives the flow that created it: its timer must not capture that flow's execution context.
        var restoreFlow = !ExecutionContext.IsFlowSuppressed();
        if (restoreFlow)
        {
            ExecutionContext.SuppressFlow();
        }

        try
        {
            _timer = time.CreateTimer(static state => ((DeadlineScheduler)state!).OnTimer(), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        }
        finally
        {
            if (restoreFlow)
            {
                ExecutionContext.RestoreFlow();
            }
        }
    }

    /// <summary>How many deadlines are waiting (for tests).</summary>
    internal int Count
    {
        get
        {
            lock (_gate)
            {
                return _count;
            }
        }
    }

    /// <summary>The scheduler of this clock, created on first use and shared by every <see cref="BudgetOptions"/> using it.</summary>
    public static DeadlineScheduler For(TimeProvider time) => Schedulers.GetValue(time, static t => new DeadlineScheduler(t));

    /// <summary>Schedules the budget's expiry at <paramref name="deadline"/> and links it into its parent's list of live children.</summary>
    /// <param name="budget">The budget, not yet scheduled.</param>
    /// <param name="deadline">Its deadline, by <see cref="TimeProvider.GetTimestamp"/>.</param>
    /// <param name="now">A clock reading taken no later than now: arming from it can only make the timer later, never early.</param>
    /// <param name="parent">The budget's parent, or null for a root.</param>
    /// <returns>False when the parent already has a cause (it is cancelling or closed), so the child was not linked.</returns>
    /// <remarks>The parents' lists share this lock: a child takes it once to open and once to end, for both.</remarks>
    public bool Add(Budget budget, long deadline, long now, Budget? parent)
    {
        lock (_gate)
        {
            if (_count == _heap.Length)
            {
                Array.Resize(ref _heap, _count * 2);
            }

            // Wraps around after 2^32 opens; IsEarlierThan compares by difference, which stays right while the budgets
            // sharing one deadline were opened fewer than 2^31 opens apart.
            budget.HeapSequence = unchecked(_sequence++);
            SiftUp(_count++, new Entry(deadline, budget));
            if (deadline < _armedFor)
            {
                _armedFor = deadline;
                Arm(deadline, now, early: false);
            }

            return parent is null || parent.TryLinkChildUnderLock(budget);
        }
    }

    /// <summary>
    /// For a budget being disposed: takes its deadline out if it is still waiting, unlinks it from its parent's list, and
    /// with <paramref name="dropChildren"/> lets go of its own list, in one lock hold — none at all when the timer has
    /// already done all of that.
    /// </summary>
    public void Release(Budget budget, bool dropChildren)
    {
        if (!budget.NeedsReleaseUnderLock(dropChildren))
        {
            return;
        }

        lock (_gate)
        {
            var index = budget.HeapIndex;
            if (index >= 0)
            {
                RemoveAt(index);
                ShrinkIfSparse();
            }

            budget.UnlinkFromParentUnderLock();
            if (dropChildren)
            {
                budget.TakeChildrenUnderLock();
            }
        }
    }

    /// <summary>Takes a cancelling budget's list of live children (its cause is recorded, so the list is frozen).</summary>
    public Budget? TakeChildren(Budget budget)
    {
        lock (_gate)
        {
            return budget.TakeChildrenUnderLock();
        }
    }

    /// <summary>How many children are linked to the budget (for tests).</summary>
    internal int CountChildren(Budget budget)
    {
        lock (_gate)
        {
            return budget.CountChildrenUnderLock();
        }
    }

    private void OnTimer()
    {
        var due = new Budget[ExpiryBatch];
        var children = new Budget?[ExpiryBatch];
        List<Exception>? failures = null;
        int taken;
        do
        {
            var now = _time.GetTimestamp();
            taken = 0;
            var expiring = 0;
            lock (_gate)
            {
                while (taken < ExpiryBatch && _count > 0 && _heap[0].Deadline <= now)
                {
                    var budget = _heap[0].Budget;
                    RemoveAt(0);
                    taken++;

                    // The expiry is recorded, the children taken and the parent's list left in this same lock hold, in
                    // deadline order; only the cancellations themselves run outside the lock.
                    if (budget.BeginExpiryUnderLock(out children[expiring]))
                    {
                        due[expiring++] = budget;
                    }
                }

                if (taken < ExpiryBatch)
                {
                    // Nothing else is due: arm for the earliest left. A timer that fired before the deadline it was armed
                    // for lands here too, and waits out the rest.
                    ShrinkIfSparse();
                    var early = _count > 0 && _heap[0].Deadline == _armedFor;
                    _armedFor = _count > 0 ? _heap[0].Deadline : long.MaxValue;
                    if (_count > 0)
                    {
                        Arm(_armedFor, now, early);
                    }
                }
            }

            for (var i = 0; i < expiring; i++)
            {
                try
                {
                    due[i].CompleteExpiry(children[i]);
                }
                catch (Exception exception)
                {
                    // A callback on one budget's token (or a logger) threw: these budgets are off the heap already, so the
                    // others must still expire here, and the timer must stay armed; the failure surfaces below.
                    (failures ??= []).Add(exception);
                }

                due[i] = null!;
                children[i] = null;
            }
        }
        while (taken == ExpiryBatch);

        if (failures is not null)
        {
            throw new AggregateException(failures);
        }
    }

    private void Arm(long deadline, long now, bool early)
    {
        var wait = _time.GetElapsedTime(now, deadline);
        if (_systemClock || early)
        {
            // The system timer counts whole milliseconds on a coarse clock and would fire up to one early, only to
            // re-arm: round up. After an early firing every clock gets whole milliseconds, so the rest, however
            // little, is never rounded down to a zero due time.
            var milliseconds = Math.Ceiling(wait.TotalMilliseconds);
            wait = TimeSpan.FromMilliseconds(milliseconds < 1 ? 1 : milliseconds);
        }
        else if (wait < TimeSpan.FromTicks(1))
        {
            // A zero due time makes some timers (FakeTimeProvider's) fire inline, inside our lock.
            wait = TimeSpan.FromTicks(1);
        }

        _timer.Change(wait, Timeout.InfiniteTimeSpan);
    }

    private void RemoveAt(int index)
    {
        _heap[index].Budget.HeapIndex = -1;
        var last = _heap[--_count];
        _heap[_count] = default;
        if (index == _count)
        {
            return;
        }

        if (index > 0 && last.IsEarlierThan(_heap[(index - 1) / Arity]))
        {
            SiftUp(index, last);
        }
        else
        {
            SiftDown(index, last);
        }
    }

    private void SiftUp(int index, Entry entry)
    {
        while (index > 0)
        {
            var parent = (index - 1) / Arity;
            if (!entry.IsEarlierThan(_heap[parent]))
            {
                break;
            }

            Place(index, _heap[parent]);
            index = parent;
        }

        Place(index, entry);
    }

    private void SiftDown(int index, Entry entry)
    {
        while (true)
        {
            var first = (Arity * index) + 1;
            if (first >= _count)
            {
                break;
            }

            var child = first;
            var end = Math.Min(first + Arity, _count);
            for (var sibling = first + 1; sibling < end; sibling++)
            {
                if (_heap[sibling].IsEarlierThan(_heap[child]))
                {
                    child = sibling;
                }
            }

            if (!_heap[child].IsEarlierThan(entry))
            {
                break;
            }

            Place(index, _heap[child]);
            index = child;
        }

        Place(index, entry);
    }

    private void Place(int index, Entry entry)
    {
        _heap[index] = entry;
        entry.Budget.HeapIndex = index;
    }

    private void ShrinkIfSparse()
    {
        // A burst of live budgets must not pin its array for the life of the process.
        if (_heap.Length > MinimumCapacity && _count < _heap.Length / 4)
        {
            // Only the live entries are copied: this runs under the lock.
            var smaller = new Entry[Math.Max(MinimumCapacity, _heap.Length / 2)];
            Array.Copy(_heap, smaller, _count);
            _heap = smaller;
        }
    }

    // 16 B: the deadline, read on every comparison, sits in the array; the opening sequence, read only to order equal
    // deadlines, sits in the budget.
    private readonly record struct Entry(long Deadline, Budget Budget)
    {
        public bool IsEarlierThan(Entry other) =>
            Deadline < other.Deadline || (Deadline == other.Deadline && unchecked(Budget.HeapSequence - other.Budget.HeapSequence) < 0);
    }
}
