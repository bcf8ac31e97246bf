using System.Collections.Concurrent;
using System.Runtime.CompilerServices;

namespace TimeoutBudget;

/// <summary>
/// The open budgets of one <see cref="TimeProvider"/>, ordered by deadline, behind one timer armed for the earliest:
/// a budget costs a heap entry instead of a timer of its own, and its token needs no timer, so it can be created lazily.
/// </summary>
/// <remarks>
/// <para>An entry is 16 B (deadline, budget); the opening sequence that orders equal deadlines is kept in the budget.
/// A child does not take the lock to open: it is pushed onto a stack of arrivals (one exchange, right after its opener's
/// clock read, so the locked instruction does not wait for the arithmetic that computes its deadline; a drain that meets
/// a child still being computed waits the few instructions until it is), and whoever
/// takes the lock next — the timer's callback, a cancelling parent, the opener of every 64th arrival, or an opener whose
/// deadline is earlier than the armed one — moves the arrivals still open into the heap (O(log n), O(1) when deadlines
/// arrive in order, as they do for equal timeouts) and into their parents' lists. A child disposed before then never
/// takes the lock at all; one disposed later is removed in O(log n), in a 4-ary heap. The timer is re-armed when a
/// deadline moved in is the earliest, and never on removal: a timer that fires for a deadline no longer there just
/// re-arms for the next one.</para>
/// <para>A budget is expired only once the precise clock has reached its deadline: a timer that fires early (timers
/// count whole milliseconds on a coarser clock) re-arms for the rest. The system clock has no such timer: a thread of
/// its own (<see cref="PreciseDeadlineTimer"/>) waits for the deadline by the precise clock, because the runtime's
/// timers fire on a coarse tick, milliseconds after it. Due budgets are taken off the heap a batch at a
/// time and expired outside the lock, in deadline order (ties in the order they opened), so a long sweep never holds
/// openers up for more than one batch.</para>
/// <para>On the system clock, when more than one batch is due, the timer callback takes only the first: a sweep on the
/// thread pool takes the rest off the heap while a drain, also on the pool, expires the batches one after another in the
/// order they were taken — two threads instead of one, and deadline order kept. Other clocks (a fake one in tests)
/// expire everything inside the timer callback, so advancing the clock returns with every due budget expired.</para>
/// </remarks>
internal sealed class DeadlineScheduler
{
    // Bounds how long the expiry path holds the lock: openers wait for at most this many heap removals.
    private const int ExpiryBatch = 64;

    // After this many arrivals the opener drains them itself.
    private const int DrainEvery = 64;

    // Budget.HeapIndex of a child waiting in the stack of arrivals.
    private const int Arriving = -2;

    // Budget.HeapIndex of a child enrolled in the stack of arrivals whose opener is still computing its deadline: a drain
    // waits until it is Arriving. From Enroll to Add (or Withdraw) its opener runs only arithmetic and stores: it
    // neither throws, nor calls out, nor waits for anything.
    private const int Opening = -3;

    // The same, for the child whose enrolment made DrainEvery arrivals since the last drain: it drains once complete.
    private const int OpeningThenDrain = -4;

    // How many short spins a drain gives an opening child before it yields its core: a yield is a system call, far longer
    // than the arithmetic an opener that is running has left.
    private const int SpinsBeforeYield = 4;
    private const int MinimumCapacity = 16;

    // How many emptied batches are kept for reuse: enough for a sweep that runs ahead of the drain.
    private const int MaxSpareBatches = 64;

    // A 4-ary heap: half the levels of a binary one, so a removal from a million entries moves 10 entries (and writes
    // 10 budgets' heap index, each a likely cache miss) instead of 20; the four children sit side by side in the array.
    private const int Arity = 4;

    private static readonly ConditionalWeakTable<TimeProvider, DeadlineScheduler> Schedulers = new();

    private readonly TimeProvider _time;
    // Every clock but the system's: the clock's own timer. The system clock: a thread waiting by the precise clock.
    private readonly ITimer? _timer;
    private readonly PreciseDeadlineTimer? _precise;
    private readonly bool _systemClock;
    // A lock that parks its waiters. A spin lock whose exit is a plain store (one interlocked operation per hold instead
    // of two) made a detached child 10-15 ns cheaper alone, but with two threads opening children together it reached
    // 0.55-0.85x the rate of raw sources (median 0.73 in five runs) where this lock reached 0.71-1.21x (median 1.0 in
    // eleven): spinning threads hand the lock back and forth where parked ones let the holder run on (issue 15, seventh
    // slice, docs/performance.md).
#if NET9_0_OR_GREATER
    private readonly Lock _gate = new();
#else
    private readonly object _gate = new();
#endif
    private Entry[] _heap = new Entry[MinimumCapacity];
    private int _count;
    private int _sequence;

    // Children opened since the last drain, newest first, linked through Budget.NextArrival. Opening a child pushes it
    // here with one exchange instead of taking the lock; whoever takes the lock next moves the ones still open into the
    // heap and their parents' lists (DrainUnderLock), so a child disposed before then never takes the lock.
    private Budget? _arrivals;

    // Pushes since the last drain, counted without atomics (a lost count only delays a drain): bounds how many disposed
    // children the stack can keep reachable.
    private int _arrivalsSinceDrain;

    // The deadline the timer is armed for, or long.MaxValue when it is not. Once that deadline has passed, a callback
    // is on its way that will re-arm for whatever is earliest then.
    private long _armedFor = long.MaxValue;

    // Whether more than one batch of due budgets is handed to the thread pool (the system clock's scheduler).
    private readonly bool _offload;

    // Batches taken off the heap and waiting to be expired, in deadline order; one drain at a time expires them.
    private readonly ConcurrentQueue<DueBatch> _batches = new();
    private int _draining;

    // Batches expired and emptied, kept for the next expiry: a firing allocates nothing, so it cannot add a collection
    // (and its pause) to the lateness of the budgets it expires.
    private readonly ConcurrentQueue<DueBatch> _spareBatches = new();

    private DeadlineScheduler(TimeProvider time, bool offload)
    {
        _time = time;
        Scale = new TimestampScale(time.TimestampFrequency);
        _offload = offload;

        _systemClock = ReferenceEquals(time, TimeProvider.System);
        if (_systemClock && !OperatingSystem.IsBrowser() && !OperatingSystem.IsWasi())
        {
            // Where threads exist (not single-threaded WebAssembly, which keeps the runtime timer).
            _precise = new PreciseDeadlineTimer(static state => ((DeadlineScheduler)state).OnTimer(), this);
        }
        else
        {
            _timer = CreateRuntimeTimer(time);
        }
    }

    private ITimer CreateRuntimeTimer(TimeProvider time)
    {
        // The scheduler outlives the flow that created it: its timer must not capture that flow's execution context.
        var restoreFlow = !ExecutionContext.IsFlowSuppressed();
        if (restoreFlow)
        {
            ExecutionContext.SuppressFlow();
        }

        try
        {
            return time.CreateTimer(static state => ((DeadlineScheduler)state!).OnTimer(), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        }
        finally
        {
            if (restoreFlow)
            {
                ExecutionContext.RestoreFlow();
            }
        }
    }

    /// <summary>Converts between this clock's timestamps and <see cref="TimeSpan"/>s in integer arithmetic (its frequency is read once, here).</summary>
    internal TimestampScale Scale { get; }

    /// <summary>The system clock's wake-up thread, or null for any other clock, which arms its own timer and never spins (for tests).</summary>
    internal PreciseDeadlineTimer? PreciseTimer => _precise;

    /// <summary>How many deadlines are waiting (for tests).</summary>
    internal int Count
    {
        get
        {
            lock (_gate)
            {
                DrainUnderLock();
                return _count;
            }
        }
    }

    /// <summary>The length of the heap's array, live entries or not (for tests).</summary>
    internal int HeapCapacity
    {
        get
        {
            lock (_gate)
            {
                return _heap.Length;
            }
        }
    }

    /// <summary>Whether any child waits in the stack of arrivals, read without the lock (for tests: a drain has taken the stack once this is false).</summary>
    internal bool HasArrivals => Volatile.Read(ref _arrivals) is not null;

    /// <summary>How many children wait in the stack of arrivals (for tests; not while children are opening).</summary>
    internal int ArrivalCount
    {
        get
        {
            var count = 0;
            lock (_gate)
            {
                for (var arrival = Volatile.Read(ref _arrivals); arrival is not null; arrival = arrival.NextArrival)
                {
                    count++;
                }
            }

            return count;
        }
    }

    /// <summary>The scheduler of this clock, created on first use and shared by every <see cref="BudgetOptions"/> using it.</summary>
    public static DeadlineScheduler For(TimeProvider time) =>
        Schedulers.GetValue(time, static t => new DeadlineScheduler(t, offload: ReferenceEquals(t, TimeProvider.System)));

    /// <summary>A scheduler of its own for <paramref name="time"/>, not shared (for tests of either way of expiring).</summary>
    internal static DeadlineScheduler CreateUnshared(TimeProvider time, bool offload) => new(time, offload);

    /// <summary>How many emptied batches are kept for reuse (for tests).</summary>
    internal int SpareBatchCount => _spareBatches.Count;

    /// <summary>Whether nothing is left to expire: every batch taken off the heap has been expired (for tests).</summary>
    internal bool IsDrained => Volatile.Read(ref _draining) == 0 && _batches.IsEmpty;

    /// <summary>
    /// Pushes a child onto the stack of arrivals as soon as its opener has read the clock, before its deadline is known:
    /// a drain that meets it waits until <see cref="Add"/> or <see cref="Withdraw"/> says it is complete. Between the two
    /// the opener must not throw, call out or wait.
    /// </summary>
    /// <param name="child">A child not yet opened.</param>
    public void Enroll(Budget child)
    {
        // Counted here, next to the exchange on the same field's line, rather than once the child is complete: with two
        // threads opening, the other's exchange takes the line away in between.
        child.HeapIndex = ++_arrivalsSinceDrain < DrainEvery ? Opening : OpeningThenDrain;

        // The exchange publishes the child before its link is written: a drain reads the link only once the child is
        // complete (the release store in Add or Withdraw orders the link before it).
        child.NextArrival = Interlocked.Exchange(ref _arrivals, child);
    }

    /// <summary>
    /// Completes an enrolled child that will not be scheduled: its cause is recorded, so the next drain drops it. Its
    /// enrolment counted as an arrival, and drains here when it made <see cref="DrainEvery"/>: children born expired or
    /// refused one after another never keep more than 63 waiting either.
    /// </summary>
    /// <param name="child">An enrolled child, with a cause.</param>
    public void Withdraw(Budget child)
    {
        var drain = child.HeapIndex == OpeningThenDrain;
        Volatile.Write(ref child.HeapIndex, Arriving);
        if (drain)
        {
            lock (_gate)
            {
                DrainUnderLock();
            }
        }
    }

    /// <summary>Schedules the budget's expiry at <paramref name="deadline"/> and, for a child, links it into its parent's list of live children.</summary>
    /// <param name="budget">The budget, not yet scheduled; a child is enrolled (<see cref="Enroll"/>).</param>
    /// <param name="deadline">Its deadline, by <see cref="TimeProvider.GetTimestamp"/>.</param>
    /// <param name="now">A clock reading taken no later than now: arming from it can only make the timer later, never early.</param>
    /// <param name="parent">The budget's parent, or null for a root.</param>
    /// <returns>
    /// True when the child must end with its parent at once: the parent recorded a cause and took its list before the
    /// child could join it. The child's constructor cancels it before anyone holds it.
    /// </returns>
    /// <remarks>
    /// A root takes the lock. A child, enrolled in the stack of arrivals already, is marked complete and joins the heap and
    /// its parent's list at the next drain; it drains at once itself when its deadline is earlier than the one the timer is
    /// armed for, when its parent already has a cause, or every <see cref="DrainEvery"/> arrivals.
    /// </remarks>
    public bool Add(Budget budget, long deadline, long now, Budget? parent)
    {
        if (parent is null)
        {
            lock (_gate)
            {
                Insert(budget, deadline);
                ArmIfEarliest(now);
            }

            return false;
        }

        // Its deadline, parent and state are written: a drain waiting for this child may take it now.
        var drain = budget.HeapIndex == OpeningThenDrain;
        Volatile.Write(ref budget.HeapIndex, Arriving);

        // Read after the enrolment (the exchange is a full fence): the timer's callback publishes what it armed for
        // before it looks for arrivals, and a parent records its cause before it does, so either they find this child
        // (and wait for it to be complete) or this child finds their change and drains itself.
        if (!drain && deadline >= Volatile.Read(ref _armedFor) && !parent.HasCause)
        {
            return false;
        }

        lock (_gate)
        {
            // The opening's own clock reading arms the timer if this child is the earliest: no second read.
            DrainUnderLock(now);

            // Whoever drained it, the child is settled now: in its parent's list (the parent cancels it), or left out of a
            // list already taken or let go (the parent was disposed: nothing to cancel).
            return parent.HasCause && !parent.IsClosed && !budget.InParentListUnderLock;
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
            // Its children still arriving join the list first, so they are cancelled with the rest of it.
            DrainUnderLock();
            return budget.TakeChildrenUnderLock();
        }
    }

    /// <summary>How many children are linked to the budget (for tests).</summary>
    internal int CountChildren(Budget budget)
    {
        lock (_gate)
        {
            DrainUnderLock();
            return budget.CountChildrenUnderLock();
        }
    }

    private void OnTimer()
    {
        if (!_offload)
        {
            ExpireInline();
            return;
        }

        // One batch here; the rest, if any, on the thread pool, so the timer callback stays short.
        var batch = TakeBatch(out var more);
        if (!more && Volatile.Read(ref _draining) == 0 && batch is not null)
        {
            // The common case, a few budgets due and no drain still expiring earlier ones: no hop to the pool.
            var failures = Expire(batch, null);
            if (failures is not null)
            {
                throw new AggregateException(failures);
            }

            return;
        }

        if (batch is not null)
        {
            Enqueue(batch);
        }

        if (more)
        {
            ThreadPool.UnsafeQueueUserWorkItem(static scheduler => scheduler.Sweep(), this, preferLocal: false);
        }
    }

    /// <summary>On the thread pool: takes the remaining due budgets off the heap, batch by batch, for the drain.</summary>
    private void Sweep()
    {
        bool more;
        do
        {
            if (TakeBatch(out more) is { } batch)
            {
                Enqueue(batch);
            }
        }
        while (more);
    }

    private void Enqueue(DueBatch batch)
    {
        _batches.Enqueue(batch);
        if (Interlocked.Exchange(ref _draining, 1) == 0)
        {
            ThreadPool.UnsafeQueueUserWorkItem(static scheduler => scheduler.Drain(), this, preferLocal: false);
        }
    }

    /// <summary>On the thread pool: expires the batches in the order they were taken, one drain at a time.</summary>
    private void Drain()
    {
        List<Exception>? failures = null;
        while (true)
        {
            while (_batches.TryDequeue(out var batch))
            {
                failures = Expire(batch, failures);
            }

            Volatile.Write(ref _draining, 0);

            // A batch enqueued after the last dequeue but before the flag was cleared found a drain running: take it.
            if (_batches.IsEmpty || Interlocked.Exchange(ref _draining, 1) != 0)
            {
                break;
            }
        }

        if (failures is not null)
        {
            // As from a timer callback: a token's callback threw. Every other budget has expired all the same.
            throw new AggregateException(failures);
        }
    }

    /// <summary>Every due budget, expired inside the timer callback, a batch at a time.</summary>
    private void ExpireInline()
    {
        List<Exception>? failures = null;
        bool more;
        do
        {
            if (TakeBatch(out more) is { } batch)
            {
                failures = Expire(batch, failures);
            }
        }
        while (more);

        if (failures is not null)
        {
            throw new AggregateException(failures);
        }
    }

    /// <summary>
    /// Takes up to one batch of due budgets off the heap in one lock hold, recording their expiry in deadline order; when
    /// nothing else is due, arms the timer for the earliest deadline left.
    /// </summary>
    /// <param name="more">Whether the batch was full, so more may be due.</param>
    /// <returns>The budgets whose expiry this call recorded, or null when there are none.</returns>
    private DueBatch? TakeBatch(out bool more)
    {
        var now = _time.GetTimestamp();
        var taken = 0;
        DueBatch? batch = null;
        lock (_gate)
        {
            DrainUnderLock();
            while (taken < ExpiryBatch && _count > 0 && _heap[0].Deadline <= now)
            {
                var budget = _heap[0].Budget;
                RemoveAt(0);
                taken++;

                // The expiry is recorded, the children taken and the parent's list left in this same lock hold, in
                // deadline order; only the cancellations themselves run outside the lock. The cause is recorded before
                // the arrivals are looked at: a child arriving meanwhile either is drained here into the list, or sees
                // the cause and drains (and is cancelled) itself.
                if (budget.BeginExpiryUnderLock())
                {
                    DrainUnderLock();
                    (batch ??= RentBatch()).Add(budget, budget.TakeChildrenUnderLock());
                }
            }

            more = taken == ExpiryBatch;
            if (!more)
            {
                // Nothing else is due: arm for the earliest left. A timer that fired before the deadline it was armed
                // for lands here too, and waits out the rest.
                ShrinkIfSparse();
                var early = _count > 0 && _heap[0].Deadline == _armedFor;
                Volatile.Write(ref _armedFor, _count > 0 ? _heap[0].Deadline : long.MaxValue);
                if (_count > 0)
                {
                    Arm(_armedFor, now, early);
                }

                // What was armed for is published before the arrivals are looked at again: a child pushed meanwhile with
                // an earlier deadline either is drained (and armed for) here, or sees the new value and drains itself.
                Interlocked.MemoryBarrier();
                DrainUnderLock();
            }
        }

        return batch;
    }

    /// <summary>
    /// Under the lock: moves the arrivals still open into the heap and their parents' lists, in the order they arrived, and
    /// arms the timer when one of them is now the earliest. Disposed (or already cancelled) arrivals are dropped. A parent
    /// that has recorded a cause but not yet taken its list still takes them in (it is about to take the list, in this or
    /// a later lock hold, and cancels them before its own token); one whose list is gone leaves the child out, and the
    /// child's opener, which saw the cause, cancels it (<see cref="Add"/>).
    /// </summary>
    /// <param name="now">A clock reading no later than now, for arming; null to read the clock only if arming.</param>
    private void DrainUnderLock(long? now = null)
    {
        if (Volatile.Read(ref _arrivals) is null)
        {
            return;
        }

        var arrival = Interlocked.Exchange(ref _arrivals, null);
        _arrivalsSinceDrain = 0;

        // Newest first on the stack: reversed, so equal deadlines keep the order the children opened in. The ones
        // disposed (or cancelled by their callers) while arriving are dropped on the way, so they are walked once: nothing
        // to expire, no list to join.
        Budget? inOrder = null;
        while (arrival is not null)
        {
            WaitUntilComplete(arrival);
            var next = arrival.NextArrival;
            if (arrival.HasCause)
            {
                arrival.NextArrival = null;
                arrival.HeapIndex = -1;
            }
            else
            {
                arrival.NextArrival = inOrder;
                inOrder = arrival;
            }

            arrival = next;
        }

        try
        {
            while (inOrder is not null)
            {
                var budget = inOrder;
                inOrder = budget.NextArrival;
                budget.NextArrival = null;
                Insert(budget, budget.DeadlineTimestamp);
                budget.Parent!.LinkArrivedChildUnderLock(budget);

                // Dispose marks the budget disposed and then reads HeapIndex without the lock: with the heap index written
                // before this fence and the flag read after it, either its Dispose finds the budget in the heap (and takes
                // it out under the lock), or this finds it disposed and takes it out here.
                Interlocked.MemoryBarrier();
                if (budget.IsDisposed)
                {
                    RemoveAt(budget.HeapIndex);
                    budget.UnlinkFromParentUnderLock();
                }
            }
        }
        finally
        {
            // Only if something above threw: whatever was not moved in waits for the next drain instead of being lost.
            while (inOrder is not null)
            {
                // Complete already, and only drains (under this lock) read the stack: linked after the exchange.
                var budget = inOrder;
                inOrder = budget.NextArrival;
                budget.NextArrival = Interlocked.Exchange(ref _arrivals, budget);
            }
        }

        ArmIfEarliest(now);
    }

    /// <summary>
    /// Waits while the child's opener is still between <see cref="Enroll"/> and <see cref="Add"/> (or <see cref="Withdraw"/>):
    /// arithmetic and stores, nothing that waits.
    /// </summary>
    private static void WaitUntilComplete(Budget child)
    {
        // A few short spins cover an opener that is running (tens of nanoseconds away); then yields, so that one preempted
        // in those instructions gets a core back. Never sleeps: this runs under the lock, where a millisecond's sleep would
        // hold up every other drain, and a sleep can throw (an interrupted thread) where nothing may.
        for (var spins = 0; Volatile.Read(ref child.HeapIndex) <= Opening; spins++)
        {
            if (spins < SpinsBeforeYield)
            {
                Thread.SpinWait(1);
            }
            else
            {
                Thread.Yield();
            }
        }
    }

    /// <summary>Under the lock: inserts the budget's deadline into the heap.</summary>
    private void Insert(Budget budget, long deadline)
    {
        if (_count == _heap.Length)
        {
            Array.Resize(ref _heap, _count * 2);
        }

        // Wraps around after 2^32 opens; IsEarlierThan compares by difference, which stays right while the budgets
        // sharing one deadline were opened fewer than 2^31 opens apart.
        budget.HeapSequence = unchecked(_sequence++);
        SiftUp(_count++, new Entry(deadline, budget));
    }

    /// <summary>Under the lock: arms the timer when the earliest deadline is earlier than the one it is armed for.</summary>
    /// <param name="now">A clock reading no later than now, or null to read the clock (only when arming).</param>
    private void ArmIfEarliest(long? now)
    {
        if (_count > 0 && _heap[0].Deadline < _armedFor)
        {
            // Armed first, published after: if arming throws, openers keep comparing with the old, later value and drain.
            var earliest = _heap[0].Deadline;
            Arm(earliest, now ?? _time.GetTimestamp(), early: false);
            Volatile.Write(ref _armedFor, earliest);
        }
    }

    private void Arm(long deadline, long now, bool early)
    {
        if (_precise is not null)
        {
            // The system clock: the thread waits for the deadline itself, by the same clock as the deadline.
            _precise.ArmAt(deadline);
            return;
        }

        var wait = _time.GetElapsedTime(now, deadline);
        if (_systemClock || early)
        {
            // The system timer (where the precise thread is unavailable) counts whole milliseconds on a coarse clock
            // and would fire up to one early, only to re-arm: round up. After an early firing every clock gets whole
            // milliseconds, so the rest, however little, is never rounded down to a zero due time.
            var milliseconds = Math.Ceiling(wait.TotalMilliseconds);
            wait = TimeSpan.FromMilliseconds(milliseconds < 1 ? 1 : milliseconds);
        }
        else if (wait < TimeSpan.FromTicks(1))
        {
            // A zero due time makes some timers (FakeTimeProvider's) fire inline, inside our lock.
            wait = TimeSpan.FromTicks(1);
        }

        _timer!.Change(wait, Timeout.InfiniteTimeSpan);
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

    private DueBatch RentBatch() => _spareBatches.TryDequeue(out var batch) ? batch : new DueBatch();

    /// <summary>Expires the batch's budgets, then keeps the emptied batch for reuse.</summary>
    private List<Exception>? Expire(DueBatch batch, List<Exception>? failures)
    {
        failures = batch.Expire(failures);
        if (_spareBatches.Count < MaxSpareBatches)
        {
            _spareBatches.Enqueue(batch);
        }

        return failures;
    }

    /// <summary>Budgets taken off the heap together, with the children each had, to be expired in that order.</summary>
    private sealed class DueBatch
    {
        private readonly Budget[] _budgets = new Budget[ExpiryBatch];
        private readonly Budget?[] _children = new Budget?[ExpiryBatch];
        private int _count;

        public void Add(Budget budget, Budget? firstChild)
        {
            _budgets[_count] = budget;
            _children[_count++] = firstChild;
        }

        /// <summary>Expires every budget of the batch, in order, outside the scheduler's lock, and empties the batch.</summary>
        /// <returns><paramref name="failures"/>, with what any token callback (or logger) threw added.</returns>
        public List<Exception>? Expire(List<Exception>? failures)
        {
            for (var i = 0; i < _count; i++)
            {
                try
                {
                    _budgets[i].CompleteExpiry(_children[i]);
                }
                catch (Exception exception)
                {
                    // A callback on one budget's token (or a logger) threw: these budgets are off the heap already, so the
                    // others must still expire here; the failure surfaces at the end.
                    (failures ??= []).Add(exception);
                }

                _budgets[i] = null!;
                _children[i] = null;
            }

            _count = 0;
            return failures;
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
