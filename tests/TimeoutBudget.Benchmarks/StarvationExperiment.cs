using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text;

namespace TimeoutBudget.Benchmarks;

/// <summary>The knobs of one starvation run; <see cref="Full"/> is what docs/performance.md reports.</summary>
internal sealed record StarvationSettings
{
    public int Callers { get; init; } = 64;
    public int Workers { get; init; } = 16;
    public int DependencySlots { get; init; } = 16;
    public TimeSpan FastService { get; init; } = TimeSpan.FromMilliseconds(40);
    public TimeSpan SlowService { get; init; } = TimeSpan.FromMilliseconds(200);
    public TimeSpan Outer { get; init; } = TimeSpan.FromMilliseconds(500);
    public TimeSpan Inner { get; init; } = TimeSpan.FromSeconds(2);
    public TimeSpan Before { get; init; } = TimeSpan.FromSeconds(3);
    public TimeSpan Slow { get; init; } = TimeSpan.FromSeconds(4);
    public TimeSpan After { get; init; } = TimeSpan.FromSeconds(6);
    public TimeSpan Bucket { get; init; } = TimeSpan.FromMilliseconds(200);
    public TimeSpan Margin { get; init; } = TimeSpan.FromMilliseconds(50);
    public TimeSpan DrainBound { get; init; } = TimeSpan.FromSeconds(3);

    public static StarvationSettings Full { get; } = new();

    public static StarvationSettings Smoke { get; } = new()
    {
        Callers = 16,
        Inner = TimeSpan.FromSeconds(1),
        Before = TimeSpan.FromMilliseconds(600),
        Slow = TimeSpan.FromMilliseconds(800),
        After = TimeSpan.FromMilliseconds(800),
        DrainBound = TimeSpan.FromMilliseconds(500),
    };

    public TimeSpan Total => Before + Slow + After;

    public double SlowCapacity => DependencySlots / SlowService.TotalSeconds;

    public double FastCapacity => DependencySlots / FastService.TotalSeconds;
}

/// <summary>
/// The seed-000 shape as a measured experiment: callers wait a bounded time for work done by a fixed pool of threads that
/// make blocking calls to a slow dependency over TCP on 127.0.0.1. Misaligned: the call's own timeout is longer than the
/// caller's wait, so work goes on after the caller gave up. Aligned: a budget per request, a child per call, the call
/// cancelled at the child's deadline and never started once the budget is spent.
/// </summary>
internal static class StarvationExperiment
{
    public static (string Markdown, string Svg) Run(StarvationSettings settings)
    {
        var runs = new List<RunResult>();
        foreach (var mode in new[] { Mode.Misaligned, Mode.Aligned, Mode.AlignedFits })
        {
            runs.Add(RunOnce(settings, mode));
            Console.Error.WriteLine($"starvation: {mode} run done");
        }

        return (Report(settings, runs), Plot.Starvation(settings, runs));
    }

    /// <summary>How the service times its calls.</summary>
    internal enum Mode
    {
        /// <summary>The call's own timeout (Inner) is longer than the caller's wait (Outer): work is abandoned, not cancelled.</summary>
        Misaligned,

        /// <summary>A budget per request (Outer), a child per call: the call is cancelled at the child's deadline, never started once spent.</summary>
        Aligned,

        /// <summary>As <see cref="Aligned"/>, and a call is not started when <see cref="Budget.Fits"/> says the recent call time no longer fits.</summary>
        AlignedFits,
    }

    private static RunResult RunOnce(StarvationSettings s, Mode mode)
    {
        var aligned = mode != Mode.Misaligned;
        var name = mode switch
        {
            Mode.Misaligned => $"misaligned (inner {s.Inner.TotalSeconds:0.#} s > outer {s.Outer.TotalMilliseconds:0} ms)",
            Mode.Aligned => "aligned: TimeoutBudget",
            _ => "aligned: TimeoutBudget + Fits(recent call time)",
        };
        var result = new RunResult(name, s);
        var estimate = Measure.Ticks(s.FastService);
        var dependency = new SlowDependency(s.DependencySlots, s.FastService);
        using var queue = new BlockingCollection<WorkItem>(new ConcurrentQueue<WorkItem>());
        var current = new WorkItem?[s.Workers];
        var abort = 0;
        var start = Stopwatch.GetTimestamp();
        var end = start + Measure.Ticks(s.Total);
        var marginTicks = Measure.Ticks(s.Margin);

        var workers = new Thread[s.Workers];
        for (var w = 0; w < workers.Length; w++)
        {
            var index = w;
            workers[w] = new Thread(() => Work(index)) { IsBackground = true, Name = "fixed-pool-" + w };
            workers[w].Start();
        }

        void Work(int index)
        {
            while (!queue.IsCompleted)
            {
                if (!queue.TryTake(out var item, 50))
                {
                    continue;
                }

                if (Volatile.Read(ref abort) != 0)
                {
                    Interlocked.Increment(ref result.LeftInQueue);
                    item.Done.TrySetResult(false);
                    continue;
                }

                Volatile.Write(ref current[index], item);
                var began = Stopwatch.GetTimestamp();
                bool ok;
                if (aligned)
                {
                    ok = false;
                    var budget = item.Budget!;
                    if (budget.IsExpired || (mode == Mode.AlignedFits && !budget.Fits(TimeSpan.FromMilliseconds(Measure.Ms(Volatile.Read(ref estimate))))))
                    {
                        Interlocked.Increment(ref result.Skipped);
                    }
                    else
                    {
                        try
                        {
                            using var child = budget.Child("dependency", s.Inner);
                            var called = Stopwatch.GetTimestamp();
                            ok = SlowDependency.Call(dependency.Port, child.Remaining, child.Token);
                            if (ok)
                            {
                                // A moving average of how long a successful call takes now (racy updates are fine for an estimate).
                                var took = Stopwatch.GetTimestamp() - called;
                                Volatile.Write(ref estimate, (long)(0.8 * Volatile.Read(ref estimate) + 0.2 * took));
                            }
                        }
                        catch (Exception exception) when (exception is BudgetExhaustedException or BudgetCancelledException or ObjectDisposedException)
                        {
                            Interlocked.Increment(ref result.Skipped);
                        }
                    }
                }
                else
                {
                    ok = SlowDependency.Call(dependency.Port, s.Inner, CancellationToken.None);
                }

                var finished = Stopwatch.GetTimestamp();
                Volatile.Write(ref current[index], null);
                var gaveUp = Volatile.Read(ref item.GaveUpAt);
                if (gaveUp != 0 && finished > gaveUp)
                {
                    Interlocked.Add(ref result.OrphanTicks, finished - Math.Max(gaveUp, began));
                    if (finished - gaveUp > marginTicks)
                    {
                        Interlocked.Increment(ref result.OrphansBeyondMargin);
                    }
                }

                item.Done.TrySetResult(ok);
            }
        }

        // The sampler: queue length, orphans in flight, dependency throughput; it also switches the dependency's speed.
        var buckets = (int)Math.Ceiling((s.Total + s.DrainBound).TotalMilliseconds / s.Bucket.TotalMilliseconds) + 1;
        result.Init(buckets);
        var samplerStop = 0;
        var sampler = new Thread(() =>
        {
            var slowAt = start + Measure.Ticks(s.Before);
            var fastAt = slowAt + Measure.Ticks(s.Slow);
            var phase = 0;
            var lastServed = 0L;
            for (var b = 0; b < buckets && Volatile.Read(ref samplerStop) == 0; b++)
            {
                var due = start + Measure.Ticks(s.Bucket * (b + 1));
                while (Stopwatch.GetTimestamp() < due && Volatile.Read(ref samplerStop) == 0)
                {
                    var now = Stopwatch.GetTimestamp();
                    if (phase == 0 && now >= slowAt)
                    {
                        dependency.Service = s.SlowService;
                        phase = 1;
                    }
                    else if (phase == 1 && now >= fastAt)
                    {
                        dependency.Service = s.FastService;
                        phase = 2;
                    }

                    Thread.Sleep(2);
                }

                var at = Stopwatch.GetTimestamp();
                var orphans = 0;
                for (var w = 0; w < current.Length; w++)
                {
                    var item = Volatile.Read(ref current[w]);
                    var gaveUp = item is null ? 0 : Volatile.Read(ref item.GaveUpAt);
                    if (gaveUp != 0 && at - gaveUp > marginTicks)
                    {
                        orphans++;
                    }
                }

                var served = dependency.Served;
                result.Queue[b] = queue.Count;
                result.OrphansRunning[b] = orphans;
                result.DependencyServed[b] = served - lastServed;
                result.PoolPending[b] = ThreadPool.PendingWorkItemCount;
                lastServed = served;
                result.Sampled = b + 1;
            }
        }) { IsBackground = true, Name = "sampler" };
        sampler.Start();

        // The callers: closed loop, each waits at most Outer for its answer, then asks again.
        var callers = new Task[s.Callers];
        for (var c = 0; c < callers.Length; c++)
        {
            callers[c] = Task.Run(() => CallerAsync(s, aligned, queue, result, start, end));
        }

        var callersDone = Task.WhenAll(callers).Wait(s.Total + s.Outer + TimeSpan.FromSeconds(10));
        result.CallersFinishedInTime = callersDone;
        result.QueueAtCallersEnd = queue.Count;
        queue.CompleteAdding();

        // Let the pool drain for a bounded time, then discard what is left.
        Measure.WaitUntil(() => queue.Count == 0 && current.All(item => Volatile.Read(ref item) is null), s.DrainBound);
        Volatile.Write(ref abort, 1);
        foreach (var worker in workers)
        {
            worker.Join(s.Inner + TimeSpan.FromSeconds(5));
        }

        Volatile.Write(ref samplerStop, 1);
        sampler.Join(TimeSpan.FromSeconds(5));
        result.DependencyServedTotal = dependency.Served;
        result.DependencyDropped = dependency.Dropped;
        dependency.DisposeAsync().AsTask().Wait(TimeSpan.FromSeconds(10));
        return result;
    }

    private static async Task CallerAsync(StarvationSettings s, bool aligned, BlockingCollection<WorkItem> queue, RunResult result, long start, long end)
    {
        var latencies = new List<double>();
        while (Stopwatch.GetTimestamp() < end)
        {
            var item = new WorkItem();
            var began = Stopwatch.GetTimestamp();
            var ok = false;
            var gaveUp = false;
            if (aligned)
            {
                using var budget = Budget.Start("request", s.Outer);
                item.Budget = budget;
                queue.Add(item);
                try
                {
                    ok = await item.Done.Task.WaitAsync(budget.Token);
                }
                catch (OperationCanceledException)
                {
                    gaveUp = true;
                }
            }
            else
            {
                queue.Add(item);
                try
                {
                    ok = await item.Done.Task.WaitAsync(s.Outer);
                }
                catch (TimeoutException)
                {
                    gaveUp = true;
                }
            }

            var finished = Stopwatch.GetTimestamp();
            if (gaveUp)
            {
                Volatile.Write(ref item.GaveUpAt, finished);
                Interlocked.Increment(ref result.GaveUp);
            }
            else if (ok)
            {
                latencies.Add(Measure.Ms(finished - began));
                var bucket = (int)((finished - start) / Measure.Ticks(s.Bucket));
                if (bucket < result.Goodput.Length)
                {
                    Interlocked.Increment(ref result.Goodput[bucket]);
                }
            }
            else
            {
                Interlocked.Increment(ref result.Failed);
                if (Measure.Ms(finished - began) < 1)
                {
                    await Task.Delay(1);
                }
            }
        }

        lock (result.Latencies)
        {
            result.Latencies.AddRange(latencies);
        }
    }

    private static string Report(StarvationSettings s, IReadOnlyList<RunResult> runs)
    {
        var misaligned = runs[0];
        var slowFrom = s.Before;
        var slowTo = s.Before + s.Slow;
        // The dependency's real capacity when slow: what it answered per second in the misaligned run, where it never idles.
        var measuredCapacity = misaligned.DependencyServedBetween(slowFrom, slowTo);
        var text = new StringBuilder();
        text.AppendLine($"Starvation simulation. Machine: {Measure.Machine()}").AppendLine()
            .AppendLine($"Dependency: TCP on 127.0.0.1, {s.DependencySlots} requests at once, {s.FastService.TotalMilliseconds:0} ms each " +
                        $"(nominal capacity {Measure.N(s.FastCapacity)}/s), {s.SlowService.TotalMilliseconds:0} ms each from {s.Before.TotalSeconds:0.#} s to " +
                        $"{slowTo.TotalSeconds:0.#} s (nominal capacity {Measure.N(s.SlowCapacity)}/s, measured {Measure.F(measuredCapacity, 1)}/s). Service: {s.Workers} fixed threads making blocking calls, " +
                        $"{s.Callers} closed-loop callers each waiting {s.Outer.TotalMilliseconds:0} ms; the call's own timeout is {s.Inner.TotalSeconds:0.#} s. " +
                        $"Run {s.Total.TotalSeconds:0.#} s, then at most {s.DrainBound.TotalSeconds:0.#} s to drain; buckets of {s.Bucket.TotalMilliseconds:0} ms; orphan margin {s.Margin.TotalMilliseconds:0} ms.")
            .AppendLine()
            .AppendLine("| Run | goodput, whole run /s | goodput, slow period /s | slow goodput ÷ measured dependency capacity | p50 ms (ok) | p99 ms (ok) | requests that failed (caller gave up / told in time) | max queue | max orphans running after give-up + margin (sampled) | calls that ran past give-up + margin | orphan work, s | dependency answers nobody read | calls cancelled inside the dependency | healthy again after slow period ends | discarded at end |")
            .AppendLine("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
        foreach (var run in runs)
        {
            var recovery = run.RecoverySeconds();
            var slowGoodput = run.GoodputBetween(slowFrom, slowTo);
            text.AppendLine($"| {run.Name} | {Measure.F(run.GoodputBetween(TimeSpan.Zero, s.Total), 1)} | {Measure.F(slowGoodput, 1)} | " +
                            $"{Measure.F(slowGoodput / measuredCapacity)} | {Measure.F(run.LatencyPercentile(50), 1)} | {Measure.F(run.LatencyPercentile(99), 1)} | " +
                            $"{Measure.N(run.GaveUp + run.Failed)} ({Measure.N(run.GaveUp)} / {Measure.N(run.Failed)}) | {Measure.N(run.Queue.Take(run.Sampled).DefaultIfEmpty().Max())} | {run.OrphansRunning.Take(run.Sampled).DefaultIfEmpty().Max()} | " +
                            $"{Measure.N(run.OrphansBeyondMargin)} | {Measure.F(Measure.Ms(run.OrphanTicks) / 1000, 1)} | {Measure.N(Math.Max(0, run.DependencyServedTotal - run.Successes))} | {Measure.N(run.DependencyDropped)} | " +
                            $"{(recovery is { } r ? Measure.F(r, 1) + " s" : $"not within the run (> {s.After.TotalSeconds:0.#} s)")} | {Measure.N(run.LeftInQueue)} |");
        }

        text.AppendLine();
        foreach (var run in runs.Skip(1))
        {
            text.AppendLine($"Goodput ratio {run.Name} ÷ misaligned: whole run {Ratio(run, misaligned, TimeSpan.Zero, s.Total)}, slow period {Ratio(run, misaligned, slowFrom, slowTo)}, " +
                            $"first 2 s after the slow period {Ratio(run, misaligned, slowTo, slowTo + TimeSpan.FromSeconds(2))}.").AppendLine();
        }

        text.AppendLine($"\"Healthy again\": the start of the first 1 s window after the slow period (sliding by {s.Bucket.TotalMilliseconds:0} ms) whose goodput is at least 90 % of the mean before the slow period and whose queue never exceeds its longest before the slow period.")
            .AppendLine()
            .AppendLine("Timeline, one row per second (goodput and dependency answers are counts in that second; queue and orphans are the largest sample in it). Columns per run in the order of the table above.")
            .AppendLine()
            .AppendLine("| t (s) | phase | goodput | dependency answers | queue | orphans running |")
            .AppendLine("| ---: | --- | --- | --- | --- | --- |");
        var perSecond = (int)Math.Round(1 / s.Bucket.TotalSeconds);
        var rows = (int)Math.Ceiling(runs.Max(run => run.Sampled) / (double)perSecond);
        for (var row = 0; row < rows; row++)
        {
            var from = row * perSecond;
            var to = from + perSecond;
            string Sum(Func<RunResult, long[]> values) => string.Join(" / ", runs.Select(run => values(run).Take(Math.Min(to, run.Sampled)).Skip(from).Sum()));
            string Max(Func<RunResult, int[]> values) => string.Join(" / ", runs.Select(run => values(run).Take(Math.Min(to, run.Sampled)).Skip(from).DefaultIfEmpty().Max()));
            var phase = row < s.Before.TotalSeconds ? "normal" : row < slowTo.TotalSeconds ? "slow" : row < s.Total.TotalSeconds ? "normal" : "drain";
            text.AppendLine($"| {row}–{row + 1} | {phase} | {Sum(run => run.Goodput)} | {Sum(run => run.DependencyServed)} | {Max(run => run.Queue)} | {Max(run => run.OrphansRunning)} |");
        }

        return text.ToString();
    }

    private static string Ratio(RunResult run, RunResult baseline, TimeSpan from, TimeSpan to)
    {
        var theirs = baseline.GoodputBetween(from, to);
        var ours = run.GoodputBetween(from, to);
        return theirs == 0 ? $"∞ ({Measure.F(ours, 1)}/s against 0/s)" : Measure.F(ours / theirs) + "×";
    }

    internal sealed class WorkItem
    {
        public readonly TaskCompletionSource<bool> Done = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public Budget? Budget;
        public long GaveUpAt;
    }

    internal sealed class RunResult
    {
        public RunResult(string name, StarvationSettings settings)
        {
            Name = name;
            Settings = settings;
        }

        public string Name { get; }

        public StarvationSettings Settings { get; }

        public long[] Goodput = Array.Empty<long>();
        public int[] Queue = Array.Empty<int>();
        public int[] OrphansRunning = Array.Empty<int>();
        public long[] DependencyServed = Array.Empty<long>();
        public long[] PoolPending = Array.Empty<long>();
        public readonly List<double> Latencies = new();
        public int Sampled;
        public long GaveUp;
        public long Failed;
        public long Skipped;
        public long OrphanTicks;
        public long OrphansBeyondMargin;
        public int LeftInQueue;
        public int QueueAtCallersEnd;
        public bool CallersFinishedInTime;
        public long DependencyServedTotal;
        public long DependencyDropped;

        public long Successes => Goodput.Sum();

        public void Init(int buckets)
        {
            Goodput = new long[buckets];
            Queue = new int[buckets];
            OrphansRunning = new int[buckets];
            DependencyServed = new long[buckets];
            PoolPending = new long[buckets];
        }

        public double GoodputBetween(TimeSpan from, TimeSpan to)
        {
            var first = (int)(from.TotalMilliseconds / Settings.Bucket.TotalMilliseconds);
            var last = Math.Min(Goodput.Length, (int)(to.TotalMilliseconds / Settings.Bucket.TotalMilliseconds));
            long sum = 0;
            for (var b = first; b < last; b++)
            {
                sum += Goodput[b];
            }

            return sum / Math.Max(1e-9, (last - first) * Settings.Bucket.TotalSeconds);
        }

        public double DependencyServedBetween(TimeSpan from, TimeSpan to)
        {
            var first = (int)(from.TotalMilliseconds / Settings.Bucket.TotalMilliseconds);
            var last = Math.Min(Sampled, (int)(to.TotalMilliseconds / Settings.Bucket.TotalMilliseconds));
            long sum = 0;
            for (var b = first; b < last; b++)
            {
                sum += DependencyServed[b];
            }

            return sum / Math.Max(1e-9, (last - first) * Settings.Bucket.TotalSeconds);
        }

        public double LatencyPercentile(double percent)
        {
            var sorted = Latencies.ToArray();
            Array.Sort(sorted);
            return Measure.Percentile(sorted, percent);
        }

        /// <summary>Seconds from the end of the slow period until the service is healthy for a whole second, or null.</summary>
        public double? RecoverySeconds()
        {
            var s = Settings;
            var bucketSeconds = s.Bucket.TotalSeconds;
            var baseline = GoodputBetween(TimeSpan.FromMilliseconds(Math.Min(1000, s.Before.TotalMilliseconds / 2)), s.Before);
            var slowEnd = (int)Math.Round((s.Before + s.Slow).TotalSeconds / bucketSeconds);
            var runEnd = (int)Math.Round(s.Total.TotalSeconds / bucketSeconds);
            var beforeBuckets = (int)Math.Round(s.Before.TotalSeconds / bucketSeconds);
            var queueLimit = Math.Max(s.Workers, Queue.Take(Math.Min(beforeBuckets, Sampled)).DefaultIfEmpty().Max());
            var hold = Math.Max(1, (int)Math.Round(Math.Min(1.0, s.After.TotalSeconds / 2) / bucketSeconds));
            for (var b = slowEnd; b + hold <= runEnd; b++)
            {
                // Judged over a whole window, not per bucket: calls complete in waves, so single buckets are lumpy.
                long served = 0;
                var longest = 0;
                for (var k = b; k < b + hold; k++)
                {
                    served += Goodput[k];
                    longest = Math.Max(longest, Queue[k]);
                }

                if (served / (hold * bucketSeconds) >= 0.9 * baseline && longest <= queueLimit)
                {
                    return (b - slowEnd) * bucketSeconds;
                }
            }

            return null;
        }
    }
}
