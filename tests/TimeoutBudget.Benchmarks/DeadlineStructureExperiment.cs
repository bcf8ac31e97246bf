using System.Diagnostics;
using System.Text;

namespace TimeoutBudget.Benchmarks;

/// <summary>
/// Issue 15 asks for the deadline scheduler to be measured both ways: a deadline heap behind one timer (what
/// <c>DeadlineScheduler</c> is) or a hierarchical timing wheel. This compares the two structures alone, on the operations
/// the scheduler performs under its lock, with the guarantees it keeps: nothing taken before its deadline by the precise
/// clock, and due deadlines taken in deadline order (ties in the order they were added).
/// </summary>
/// <remarks>
/// The heap is a model of the scheduler's (4-ary, 16-B entries, the position kept in the item, ties broken by an
/// opening sequence); the wheel has six levels of 64 slots of 1 ms (64^6 ms, longer than the 49.7 days a budget may
/// last), doubly linked slots, a cascade at each level's turn, and a sort of each slot it empties, since a slot holds a
/// whole millisecond of deadlines. Each records what it takes, and what a workload left live is taken afterwards: the
/// experiment checks that both took the same deadlines at the same instants, in order, none early, so a structure that
/// broke either guarantee (or a removal that broke the structure) fails the CI smoke.
/// Timestamps are synthetic nanoseconds (the system clock's frequency on Linux), so no clock is read while measuring.
/// </remarks>
internal static class DeadlineStructureExperiment
{
    private const long Millisecond = 1_000_000;
    private const long Second = 1_000 * Millisecond;

    // Later than every deadline of every workload (they start at 1,000 s and reach 90 s past it at most).
    private const long Drained = 1_100 * Second;

    /// <summary>Runs every workload at <paramref name="count"/> live deadlines, three alternating rounds each, and reports medians.</summary>
    /// <param name="count">Live deadlines (100,000 and 1,000,000 in the published runs).</param>
    /// <param name="churn">Add-and-remove pairs timed in the churn workloads.</param>
    /// <returns>A markdown report; its last line says whether both structures kept the guarantees in every round.</returns>
    public static (string Report, bool Kept) Run(int count, int churn)
    {
        // What is left after each timed workload is taken out and checked too, so the removals are checked as well: by the
        // end every deadline still live has been taken, in order (during the expiries, afterwards for the others).
        var workloads = new (string Name, string Unit, int Taken, Func<DeadlineSet, Random, double> Measure)[]
        {
            ($"add + remove, with {count:N0} live of the same timeout (the new deadline is the latest)", "ns per pair", count,
                (set, random) => Churn(set, count, churn, sameTimeout: true, random)),
            ($"add + remove, with {count:N0} live spread over 60 s (the new deadline lands among them)", "ns per pair", count,
                (set, random) => Churn(set, count, churn, sameTimeout: false, random)),
            ($"remove half of {count:N0} live deadlines, in random order", "ns per removal", count - (count / 2),
                (set, random) => RemoveHalf(set, count, random)),
            ($"take {count:N0} due deadlines spread over 1 s, 1 ms at a time", "ns per deadline", count,
                (set, random) => Expire(set, count, spread: Second, random)),
            ($"take {count:N0} deadlines due at the same instant", "ns per deadline", count,
                (set, random) => Expire(set, count, spread: 0, random)),
        };

        var kept = true;
        if (count > 20_000)
        {
            // Warms both up past the JIT's first tiers, so that the first round does not time unoptimized code.
            kept = Run(20_000, 20_000).Kept;
        }

        var text = new StringBuilder();
        text.AppendLine($"#### Deadline heap against hierarchical timing wheel, {count:N0} live (median of 3 alternating rounds)");
        text.AppendLine(Measure.Machine());
        text.AppendLine("| Workload | Unit | Heap (the scheduler's) | Timing wheel | Wheel ÷ heap | Guarantees kept |");
        text.AppendLine("| --- | --- | ---: | ---: | ---: | --- |");
        foreach (var (name, unit, taken, measure) in workloads)
        {
            var workloadKept = true;
            var heap = new double[3];
            var wheel = new double[3];
            for (var round = 0; round < 3; round++)
            {
                // Each goes first in turn; the first's deadlines are checked and let go before the second is timed.
                List<(int Sequence, long At, long Now)>? firstTaken = null;
                foreach (var isHeap in round % 2 == 0 ? new[] { true, false } : [false, true])
                {
                    DeadlineSet set = isHeap ? new HeapDeadlines(count) : new WheelDeadlines(count);

                    // The same deadlines for both in a round, so that they must take the same ones in the same order.
                    (isHeap ? heap : wheel)[round] = measure(set, new Random(round));
                    set.TakeDue(Drained);
                    workloadKept &= set.Kept && set.Taken.Count == taken;
                    workloadKept &= firstTaken is null || firstTaken.SequenceEqual(set.Taken);
                    firstTaken = set.Taken;
                }
            }

            Array.Sort(heap);
            Array.Sort(wheel);
            kept &= workloadKept;
            text.AppendLine($"| {name} | {unit} | {Measure.F(heap[1], 1)} | {Measure.F(wheel[1], 1)} | {Measure.F(wheel[1] / heap[1])} | {(workloadKept ? "yes" : "**no**")} |");
        }

        text.AppendLine(kept
            ? "Both took the same deadlines in the same order in every round, none before its deadline."
            : "GUARANTEE BROKEN: the two structures took different deadlines, out of order, or early.");
        return (text.ToString(), kept);
    }

    private static double Churn(DeadlineSet set, int count, int pairs, bool sameTimeout, Random random)
    {
        var now = 1_000 * Second;
        set.Start(now);
        var sequence = 0;
        for (var i = 0; i < count; i++)
        {
            // Live children of the same timeout were opened one after another before now; spread ones anywhere in 60 s.
            var deadline = sameTimeout ? now + (30 * Second) - ((count - i) * 100L) : now + random.NextInt64(60 * Second);
            set.Add(new Deadline(deadline, sequence++));
        }

        // One child, added and removed again: allocating one per pair would time the allocator too.
        var child = new Deadline(0, 0);
        var timer = StartTiming();
        for (var i = 0; i < pairs; i++)
        {
            now += 100;
            child.At = now + (30 * Second);
            child.Sequence = sequence++;
            set.Add(child);
            set.Remove(child);
        }

        timer.Stop();
        return timer.Elapsed.TotalNanoseconds / pairs;
    }

    private static double RemoveHalf(DeadlineSet set, int count, Random random)
    {
        set.Start(1_000 * Second);
        var live = new Deadline[count];
        for (var i = 0; i < count; i++)
        {
            live[i] = new Deadline((1_000 * Second) + random.NextInt64(60 * Second), i);
            set.Add(live[i]);
        }

        random.Shuffle(live);
        var removed = count / 2;
        var timer = StartTiming();
        for (var i = 0; i < removed; i++)
        {
            set.Remove(live[i]);
        }

        timer.Stop();
        return timer.Elapsed.TotalNanoseconds / removed;
    }

    private static double Expire(DeadlineSet set, int count, long spread, Random random)
    {
        var start = 1_000 * Second;
        set.Start(start);
        for (var i = 0; i < count; i++)
        {
            set.Add(new Deadline(start + Second + (spread == 0 ? 0 : random.NextInt64(spread)), i));
        }

        // Each step takes what is due at a precise instant that does not fall on a millisecond, as a timer's callback would.
        var timer = StartTiming();
        for (var now = start + Second + 1_234; now < start + Second + spread + Millisecond; now += Millisecond)
        {
            set.TakeDue(now);
        }

        timer.Stop();
        return timer.Elapsed.TotalNanoseconds / count;
    }

    // Collects first, so that what the setup allocated is not promoted (the wheel's millions of links traced) while timed.
    private static Stopwatch StartTiming()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        return Stopwatch.StartNew();
    }

    private sealed class Deadline(long at, int sequence)
    {
        // Set again only for the churn's one child, while it is in neither structure.
        public long At = at;
        public int Sequence = sequence;

        // The heap's position, as Budget.HeapIndex.
        public int Index = -1;

        // The wheel's slot list.
        public Deadline? Next;
        public Deadline? Previous;
        public int Slot = -1;
    }

    private sealed class DeadlineOrder : IComparer<Deadline>
    {
        public static readonly DeadlineOrder Instance = new();

        public int Compare(Deadline? x, Deadline? y) => x!.At != y!.At ? x.At.CompareTo(y.At) : x.Sequence.CompareTo(y.Sequence);
    }

    private abstract class DeadlineSet(int capacity)
    {
        // Sized up front: a list growing while the heap or the wheel is timed would time the copy.
        public List<(int Sequence, long At, long Now)> Taken { get; } = new(capacity);

        /// <summary>Whether every deadline was taken at or after its instant, after the one taken before it.</summary>
        public bool Kept
        {
            get
            {
                for (var i = 0; i < Taken.Count; i++)
                {
                    var (sequence, at, now) = Taken[i];
                    if (at > now || (i > 0 && (Taken[i - 1].At, Taken[i - 1].Sequence).CompareTo((at, sequence)) > 0))
                    {
                        return false;
                    }
                }

                return true;
            }
        }

        public virtual void Start(long now)
        {
        }

        public abstract void Add(Deadline deadline);

        public abstract void Remove(Deadline deadline);

        public abstract void TakeDue(long now);

        // Checked after the timing (Kept), and against the other structure: the same deadlines at the same instants.
        protected void Take(Deadline deadline, long now) => Taken.Add((deadline.Sequence, deadline.At, now));
    }

    private sealed class HeapDeadlines(int capacity) : DeadlineSet(capacity)
    {
        private const int Arity = 4;
        private (long At, Deadline Deadline)[] _entries = new (long, Deadline)[16];
        private int _count;

        public override void Add(Deadline deadline)
        {
            if (_count == _entries.Length)
            {
                Array.Resize(ref _entries, _count * 2);
            }

            SiftUp(_count++, (deadline.At, deadline));
        }

        public override void Remove(Deadline deadline)
        {
            var index = deadline.Index;
            deadline.Index = -1;
            var last = _entries[--_count];
            _entries[_count] = default;
            if (index == _count)
            {
                return;
            }

            if (index > 0 && IsEarlier(last, _entries[(index - 1) / Arity]))
            {
                SiftUp(index, last);
            }
            else
            {
                SiftDown(index, last);
            }
        }

        public override void TakeDue(long now)
        {
            while (_count > 0 && _entries[0].At <= now)
            {
                var first = _entries[0].Deadline;
                Remove(first);
                Take(first, now);
            }
        }

        private void SiftUp(int index, (long At, Deadline Deadline) entry)
        {
            while (index > 0)
            {
                var parent = (index - 1) / Arity;
                if (!IsEarlier(entry, _entries[parent]))
                {
                    break;
                }

                Place(index, _entries[parent]);
                index = parent;
            }

            Place(index, entry);
        }

        private void SiftDown(int index, (long At, Deadline Deadline) entry)
        {
            while (true)
            {
                var first = (index * Arity) + 1;
                if (first >= _count)
                {
                    break;
                }

                var earliest = first;
                for (var child = first + 1; child < Math.Min(first + Arity, _count); child++)
                {
                    if (IsEarlier(_entries[child], _entries[earliest]))
                    {
                        earliest = child;
                    }
                }

                if (!IsEarlier(_entries[earliest], entry))
                {
                    break;
                }

                Place(index, _entries[earliest]);
                index = earliest;
            }

            Place(index, entry);
        }

        // As the scheduler's entries: the deadline read from the array, the item's sequence only on a tie.
        private static bool IsEarlier((long At, Deadline Deadline) entry, (long At, Deadline Deadline) other) =>
            entry.At < other.At || (entry.At == other.At && entry.Deadline.Sequence < other.Deadline.Sequence);

        private void Place(int index, (long At, Deadline Deadline) entry)
        {
            _entries[index] = entry;
            entry.Deadline.Index = index;
        }
    }

    private sealed class WheelDeadlines(int capacity) : DeadlineSet(capacity)
    {
        private const int Bits = 6;
        private const int Slots = 1 << Bits;
        private const int Levels = 6;
        private const long Mask = Slots - 1;

        private readonly Deadline?[] _slots = new Deadline?[Levels * Slots];
        private readonly List<Deadline> _due = [];

        // Every millisecond up to this one has been emptied; deadlines in it are taken as the precise clock passes them.
        private long _current;

        public override void Start(long now) => _current = now / Millisecond;

        public override void Add(Deadline deadline)
        {
            var tick = deadline.At / Millisecond;
            var ahead = Math.Max(tick - _current, 0);
            var level = 0;
            while (level < Levels - 1 && ahead >= 1L << (Bits * (level + 1)))
            {
                level++;
            }

            // A deadline already in the current millisecond waits in its slot for the precise clock.
            var slot = (level * Slots) + (int)((Math.Max(tick, _current) >> (Bits * level)) & Mask);
            deadline.Slot = slot;
            deadline.Previous = null;
            deadline.Next = _slots[slot];
            if (deadline.Next is { } next)
            {
                next.Previous = deadline;
            }

            _slots[slot] = deadline;
        }

        public override void Remove(Deadline deadline)
        {
            if (deadline.Previous is { } previous)
            {
                previous.Next = deadline.Next;
            }
            else
            {
                _slots[deadline.Slot] = deadline.Next;
            }

            if (deadline.Next is { } next)
            {
                next.Previous = deadline.Previous;
            }

            deadline.Slot = -1;
            deadline.Next = deadline.Previous = null;
        }

        public override void TakeDue(long now)
        {
            var target = now / Millisecond;
            while (true)
            {
                // The current millisecond: only what the precise clock has passed; the slot is emptied once it is past.
                var passed = _current < target;
                var slot = (int)(_current & Mask);
                for (var deadline = _slots[slot]; deadline is not null;)
                {
                    var next = deadline.Next;
                    if (passed || deadline.At <= now)
                    {
                        Remove(deadline);
                        _due.Add(deadline);
                    }

                    deadline = next;
                }

                // A slot holds a whole millisecond, newest first: its deadlines are sorted before they are taken.
                _due.Sort(DeadlineOrder.Instance);
                foreach (var deadline in _due)
                {
                    Take(deadline, now);
                }

                _due.Clear();
                if (!passed)
                {
                    return;
                }

                _current++;
                Cascade();
            }
        }

        // At each turn of a level, the slot of the level above that starts now moves down to where it now belongs.
        private void Cascade()
        {
            for (var level = 1; level < Levels && (_current & ((1L << (Bits * level)) - 1)) == 0; level++)
            {
                var slot = (level * Slots) + (int)((_current >> (Bits * level)) & Mask);
                var deadline = _slots[slot];
                _slots[slot] = null;
                while (deadline is not null)
                {
                    var next = deadline.Next;
                    Add(deadline);
                    deadline = next;
                }
            }
        }
    }
}
