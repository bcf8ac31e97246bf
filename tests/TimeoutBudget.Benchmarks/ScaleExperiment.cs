using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Text;

namespace TimeoutBudget.Benchmarks;

/// <summary>
/// Issue 7, benchmarks 4 and 5 at scale, as a console experiment (BenchmarkDotNet does not fit "100,000 at once"):
/// bytes per live budget, creation throughput on every core, how late cancellations fire compared with the same number of
/// raw <see cref="CancellationTokenSource"/> timers in the same run, and the monitor's sweep with callers timed meanwhile.
/// </summary>
/// <remarks>Every wait is bounded; the whole run takes well under a minute for 100,000 on 2 cores.</remarks>
internal static class ScaleExperiment
{
    private static readonly TimeSpan LongTimeout = TimeSpan.FromMinutes(30);

    private enum Kind
    {
        // Its token read, as a call that passes it on does: a raw source always has its token.
        Budget,

        // Used only through its clock (Remaining, IsExpired): no cancellation source is ever created.
        BudgetNoToken,
        BudgetMonitored,
        RawLinkedCts,
    }

    private static string Name(Kind kind) => kind switch
    {
        Kind.Budget => "TimeoutBudget child, token read",
        Kind.BudgetNoToken => "TimeoutBudget child, token never read",
        Kind.BudgetMonitored => "TimeoutBudget child, with BudgetMonitor",
        _ => "raw linked CTS + CancelAfter",
    };

    public static string Run(int count, TimeSpan callerWindow)
    {
        var report = new StringBuilder();
        report.AppendLine($"Scale experiment: {Measure.N(count)} live at once. Machine: {Measure.Machine()}").AppendLine();

        // 1. Memory per live item.
        report.AppendLine("#### Bytes per live item").AppendLine()
            .AppendLine("| What | Retained bytes per live item | Allocated bytes per item created |")
            .AppendLine("| --- | ---: | ---: |");
        foreach (var kind in new[] { Kind.Budget, Kind.BudgetNoToken, Kind.BudgetMonitored, Kind.RawLinkedCts })
        {
            var (live, allocated) = MeasureMemory(count, kind);
            report.AppendLine($"| {Name(kind)} | {Measure.F(live, 0)} | {Measure.F(allocated, 0)} |");
        }

        Console.Error.WriteLine("scale: memory done");

        // 2. Creation throughput on every core, three rounds alternating, median reported.
        var threads = Environment.ProcessorCount;
        var rates = new Dictionary<Kind, List<double>> { [Kind.Budget] = new(), [Kind.RawLinkedCts] = new() };
        for (var round = 0; round < 3; round++)
        {
            foreach (var kind in round % 2 == 0 ? new[] { Kind.Budget, Kind.RawLinkedCts } : new[] { Kind.RawLinkedCts, Kind.Budget })
            {
                rates[kind].Add(Throughput(count, kind, threads));
            }
        }

        report.AppendLine().AppendLine($"#### Creation throughput, {threads} threads creating {Measure.N(count)} live items (median of 3 rounds)").AppendLine()
            .AppendLine("| What | Items per second | Rounds |")
            .AppendLine("| --- | ---: | --- |");
        foreach (var (kind, list) in rates)
        {
            list.Sort();
            report.AppendLine($"| {Name(kind)} | {Measure.N(list[list.Count / 2])} | {string.Join(", ", list.Select(r => Measure.N(r)))} |");
        }

        Console.Error.WriteLine("scale: throughput done");

        // 3. Lateness of cancellations: ABBA order so drift in the machine's load hits both alike.
        var lateness = new Dictionary<Kind, List<double>> { [Kind.Budget] = new(), [Kind.RawLinkedCts] = new() };
        var missed = new Dictionary<Kind, int> { [Kind.Budget] = 0, [Kind.RawLinkedCts] = 0 };
        var pauses = new Dictionary<Kind, (TimeSpan Pause, int Gen2, int Gen0)> { [Kind.Budget] = default, [Kind.RawLinkedCts] = default };
        var cpu = new Dictionary<Kind, TimeSpan> { [Kind.Budget] = TimeSpan.Zero, [Kind.RawLinkedCts] = TimeSpan.Zero };
        foreach (var kind in new[] { Kind.Budget, Kind.RawLinkedCts, Kind.RawLinkedCts, Kind.Budget })
        {
            var (samples, notFired, pause, gen2, gen0, used) = Lateness(count, kind, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1));
            cpu[kind] += used;
            var sofar = pauses[kind];
            pauses[kind] = (sofar.Pause + pause, sofar.Gen2 + gen2, sofar.Gen0 + gen0);
            lateness[kind].AddRange(samples);
            missed[kind] += notFired;
        }

        report.AppendLine().AppendLine($"#### Lateness of cancellation after the deadline, {Measure.N(count)} live timers with deadlines spread over 1 s (2 rounds each, ABBA)").AppendLine()
            .AppendLine("| What | p50 ms | p99 ms | max ms | not fired within bound | GC pause while armed and firing, ms (gen0 / gen2 collections) | process CPU while armed and firing, ms |")
            .AppendLine("| --- | ---: | ---: | ---: | ---: | ---: | ---: |");
        var summary = new Dictionary<Kind, (double P50, double P99, double Max)>();
        foreach (var (kind, list) in lateness)
        {
            var sorted = list.ToArray();
            Array.Sort(sorted);
            var row = (Measure.Percentile(sorted, 50), Measure.Percentile(sorted, 99), sorted.Length == 0 ? double.NaN : sorted[^1]);
            summary[kind] = row;
            report.AppendLine($"| {Name(kind)} | {Measure.F(row.Item1, 3)} | {Measure.F(row.Item2, 3)} | {Measure.F(row.Item3, 3)} | {missed[kind]} | {Measure.F(pauses[kind].Pause.TotalMilliseconds, 1)} ({pauses[kind].Gen0} / {pauses[kind].Gen2}) | {Measure.F(cpu[kind].TotalMilliseconds, 0)} |");
        }

        var ours = summary[Kind.Budget];
        var theirs = summary[Kind.RawLinkedCts];
        report.AppendLine().AppendLine($"Ratio budget / raw: p50 {Measure.F(ours.P50 / theirs.P50)}×, p99 {Measure.F(ours.P99 / theirs.P99)}×, max {Measure.F(ours.Max / theirs.Max)}× (target: p99 ≤ 1.10×).");
        Console.Error.WriteLine("scale: lateness done");

        // 4. The monitor's sweep over `count` live budgets while a caller opens and disposes children.
        report.AppendLine().Append(SweepUnderLoad(count, callerWindow));
        Console.Error.WriteLine("scale: sweep done");
        return report.ToString();
    }

    private static (double Live, double Allocated) MeasureMemory(int count, Kind kind)
    {
        var items = new IDisposable[count];
        var monitor = kind == Kind.BudgetMonitored ? new BudgetMonitor(capacity: count + 1) : null;
        var root = Budget.Start("request", TimeSpan.FromHours(2), new BudgetOptions { Monitor = monitor });
        using var outer = new CancellationTokenSource(TimeSpan.FromHours(2));
        Collect();
        var before = GC.GetTotalMemory(forceFullCollection: true);
        var allocatedBefore = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < count; i++)
        {
            items[i] = Create(kind, root, outer.Token, LongTimeout);
        }

        var allocated = GC.GetAllocatedBytesForCurrentThread() - allocatedBefore;
        Collect();
        var after = GC.GetTotalMemory(forceFullCollection: true);
        GC.KeepAlive(items);
        DisposeAll(items);
        root.Dispose();
        monitor?.Dispose();
        return ((after - before) / (double)count, allocated / (double)count);
    }

    private static double Throughput(int count, Kind kind, int threads)
    {
        var items = new IDisposable[count];
        var root = Budget.Start("request", TimeSpan.FromHours(2));
        using var outer = new CancellationTokenSource(TimeSpan.FromHours(2));
        Collect();
        using var start = new ManualResetEventSlim();
        var workers = new Thread[threads];
        var slice = count / threads;
        for (var t = 0; t < threads; t++)
        {
            var from = t * slice;
            var to = t == threads - 1 ? count : from + slice;
            workers[t] = new Thread(() =>
            {
                start.Wait();
                for (var i = from; i < to; i++)
                {
                    items[i] = Create(kind, root, outer.Token, LongTimeout);
                }
            }) { IsBackground = true };
            workers[t].Start();
        }

        Thread.Sleep(50);
        var began = Stopwatch.GetTimestamp();
        start.Set();
        foreach (var worker in workers)
        {
            if (!worker.Join(TimeSpan.FromSeconds(60)))
            {
                throw new TimeoutException("A creation thread did not finish within 60 s.");
            }
        }

        var seconds = Measure.Ms(Stopwatch.GetTimestamp() - began) / 1000.0;
        DisposeAll(items);
        root.Dispose();
        return count / seconds;
    }

    private static (List<double> Samples, int NotFired, TimeSpan Pause, int Gen2, int Gen0, TimeSpan Cpu) Lateness(int count, Kind kind, TimeSpan lead, TimeSpan spread)
    {
        var items = new IDisposable[count];
        var probes = new Probe[count];
        var fired = new StrongBox<int>();
        for (var i = 0; i < count; i++)
        {
            probes[i] = new Probe(fired);
        }

        var root = Budget.Start("request", TimeSpan.FromHours(2));
        using var outer = new CancellationTokenSource(TimeSpan.FromHours(2));
        Collect();
        for (var i = 0; i < count; i++)
        {
            var timeout = lead + spread * ((i % 1000) / 1000.0);
            var before = Stopwatch.GetTimestamp();
            var item = Create(kind, root, outer.Token, timeout);
            probes[i].Deadline = before + Measure.Ticks(timeout);
            var token = item is Budget budget ? budget.Token : ((CancellationTokenSource)item).Token;
            token.UnsafeRegister(static state => ((Probe)state!).Fire(), probes[i]);
            items[i] = item;
        }

        var pauseBefore = GC.GetTotalPauseDuration();
        var gen2Before = GC.CollectionCount(2);
        var gen0Before = GC.CollectionCount(0);

        // What waiting for and firing the deadlines costs the whole process (2 rounds summed): a scheduler that waits
        // less late by spinning must show what the spinning burns.
        using var process = Process.GetCurrentProcess();
        var cpuBefore = process.TotalProcessorTime;
        Measure.WaitUntil(() => Volatile.Read(ref fired.Value) >= count, lead + spread + TimeSpan.FromSeconds(10));
        var pause = GC.GetTotalPauseDuration() - pauseBefore;
        var gen2 = GC.CollectionCount(2) - gen2Before;
        var gen0 = GC.CollectionCount(0) - gen0Before;
        process.Refresh();
        var cpu = process.TotalProcessorTime - cpuBefore;
        var samples = new List<double>(count);
        var notFired = 0;
        foreach (var probe in probes)
        {
            var at = Volatile.Read(ref probe.Fired);
            if (at == 0)
            {
                notFired++;
            }
            else
            {
                samples.Add(Measure.Ms(at - probe.Deadline));
            }
        }

        DisposeAll(items);
        root.Dispose();
        return (samples, notFired, pause, gen2, gen0, cpu);
    }

    private static string SweepUnderLoad(int count, TimeSpan window)
    {
        using var monitor = new BudgetMonitor(capacity: count + 10_000);
        var root = Budget.Start("request", TimeSpan.FromHours(2), new BudgetOptions { Monitor = monitor });
        var live = new Budget[count];
        for (var i = 0; i < count; i++)
        {
            live[i] = root.Child("dependency", LongTimeout);
        }

        Collect();
        var quiet = CallerLatencies(root, window, sweeping: false, monitor, out _, out _, out _);
        var busy = CallerLatencies(root, window, sweeping: true, monitor, out var sweeps, out var sweepMs, out var sweepBytes);

        var text = new StringBuilder();
        text.AppendLine($"#### BudgetMonitor.Sweep over {Measure.N(count)} live budgets, one caller thread opening and disposing monitored children meanwhile ({window.TotalSeconds:0.#} s each)").AppendLine()
            .AppendLine($"Sweeps run back to back on a second thread: {sweeps} sweeps, {Measure.F(sweepMs / Math.Max(1, sweeps))} ms and {Measure.N(sweepBytes / (double)Math.Max(1, sweeps))} B allocated per sweep.").AppendLine()
            .AppendLine("| Caller's Child + Dispose | calls | p50 µs | p99 µs | p99.9 µs | max µs |")
            .AppendLine("| --- | ---: | ---: | ---: | ---: | ---: |");
        foreach (var (label, sample) in new[] { ("no sweep running", quiet), ("sweeping continuously", busy) })
        {
            text.AppendLine($"| {label} | {Measure.N(sample.Length)} | {Measure.F(Measure.Percentile(sample, 50) * 1000)} | {Measure.F(Measure.Percentile(sample, 99) * 1000)} | " +
                            $"{Measure.F(Measure.Percentile(sample, 99.9) * 1000)} | {Measure.F((sample.Length == 0 ? double.NaN : sample[^1]) * 1000)} |");
        }

        DisposeAll(live);
        root.Dispose();
        return text.ToString();
    }

    private static double[] CallerLatencies(Budget root, TimeSpan window, bool sweeping, BudgetMonitor monitor, out int sweeps, out double sweepMs, out long sweepBytes)
    {
        var latencies = new double[4_000_000];
        var n = 0;
        var stop = 0;
        var sweepCount = 0;
        var sweepTicks = 0L;
        var bytes = 0L;
        Thread? sweeper = null;
        if (sweeping)
        {
            sweeper = new Thread(() =>
            {
                var allocated = GC.GetAllocatedBytesForCurrentThread();
                while (Volatile.Read(ref stop) == 0)
                {
                    var t0 = Stopwatch.GetTimestamp();
                    monitor.Sweep();
                    sweepTicks += Stopwatch.GetTimestamp() - t0;
                    sweepCount++;
                }

                bytes = GC.GetAllocatedBytesForCurrentThread() - allocated;
            }) { IsBackground = true };
            sweeper.Start();
        }

        var caller = new Thread(() =>
        {
            var until = Stopwatch.GetTimestamp() + Measure.Ticks(window);
            while (n < latencies.Length)
            {
                var t0 = Stopwatch.GetTimestamp();
                if (t0 > until)
                {
                    break;
                }

                using (var child = root.Child("call", TimeSpan.FromSeconds(10)))
                {
                    _ = child.Token;
                }

                latencies[n++] = Measure.Ms(Stopwatch.GetTimestamp() - t0);
            }
        }) { IsBackground = true };
        caller.Start();
        if (!caller.Join(window + TimeSpan.FromSeconds(30)))
        {
            throw new TimeoutException("The caller thread did not finish.");
        }

        Volatile.Write(ref stop, 1);
        if (sweeper is not null && !sweeper.Join(TimeSpan.FromSeconds(30)))
        {
            throw new TimeoutException("The sweeper thread did not finish.");
        }

        sweeps = sweepCount;
        sweepMs = Measure.Ms(sweepTicks);
        sweepBytes = bytes;
        var result = latencies.AsSpan(0, n).ToArray();
        Array.Sort(result);
        return result;
    }

    private static IDisposable Create(Kind kind, Budget root, CancellationToken outer, TimeSpan timeout)
    {
        if (kind == Kind.RawLinkedCts)
        {
            var source = CancellationTokenSource.CreateLinkedTokenSource(outer);
            source.CancelAfter(timeout);
            return source;
        }

        var budget = root.DetachedChild("dependency", timeout);
        if (kind != Kind.BudgetNoToken)
        {
            _ = budget.Token;
        }

        return budget;
    }

    // How long before the first deadline the caller is timed, and how many calls each list holds without growing.
    private static readonly TimeSpan QuietWindow = TimeSpan.FromSeconds(2);
    private const int SampleCapacity = 1 << 25;

    /// <summary>
    /// Issue 15: <paramref name="count"/> live budgets expire within one second while a caller thread keeps opening and
    /// disposing children; the caller's latency while the scheduler expires them is compared with its latency before.
    /// </summary>
    public static string ExpiryUnderLoad(int count, TimeSpan spread)
    {
        // Opening a million takes seconds on 2 cores: the deadlines are absolute, all after the last open, so the
        // caller is timed quietly first and then while every budget expires within the spread (zero: all at once, which
        // measures how fast the scheduler expires a backlog).
        var lead = TimeSpan.FromSeconds(2) + TimeSpan.FromMicroseconds(10) * count;
        var root = Budget.Start("request", TimeSpan.FromHours(2));
        var fired = new StrongBox<int>();
        var live = new Budget[count];
        Collect();
        var opened = Stopwatch.GetTimestamp();
        var lastDue = 0L;
        for (var i = 0; i < count; i++)
        {
            var due = opened + Measure.Ticks(lead + spread * ((i % 1000) / 1000.0));
            var now = Stopwatch.GetTimestamp();
            lastDue = Math.Max(lastDue, due);
            live[i] = root.DetachedChild("dependency", TimeSpan.FromSeconds(Measure.Ms(due - now) / 1000.0));
            live[i].Token.UnsafeRegister(static state => Interlocked.Increment(ref ((StrongBox<int>)state!).Value), fired);
        }

        var openedMs = Measure.Ms(Stopwatch.GetTimestamp() - opened);
        var firstDue = opened + Measure.Ticks(lead);

        // The caller is timed only in the last seconds before the first deadline, into lists sized up front: a list of
        // the whole quiet window grew past 2^26 entries, and its 1 GB copy, landing at the first deadline, held the caller
        // up through the whole expiry (no call timed while the budgets expired).
        var quietFrom = Math.Max(Stopwatch.GetTimestamp(), firstDue - Measure.Ticks(QuietWindow));
        var quiet = new List<double>(SampleCapacity);
        var busy = new List<double>(SampleCapacity);
        var expiredAt = 0L;
        var caller = new Thread(() =>
        {
            var until = lastDue + Measure.Ticks(TimeSpan.FromSeconds(1));
            while (true)
            {
                var t0 = Stopwatch.GetTimestamp();
                if (t0 > until)
                {
                    break;
                }

                using (var child = root.DetachedChild("call", TimeSpan.FromSeconds(10)))
                {
                    _ = child.Token;
                }

                var ms = Measure.Ms(Stopwatch.GetTimestamp() - t0);
                if (t0 < firstDue)
                {
                    if (t0 >= quietFrom)
                    {
                        quiet.Add(ms);
                    }
                }
                else if (Volatile.Read(ref fired.Value) < count)
                {
                    busy.Add(ms);
                }
                else if (expiredAt == 0)
                {
                    expiredAt = t0;
                }
            }
        }) { IsBackground = true };
        caller.Start();
        if (!caller.Join(lead + spread + TimeSpan.FromSeconds(60)))
        {
            throw new TimeoutException("The caller thread did not finish.");
        }

        var notFired = count - Volatile.Read(ref fired.Value);
        DisposeAll(live);
        root.Dispose();

        var text = new StringBuilder();
        text.AppendLine($"#### {Measure.N(count)} live budgets expiring over {spread.TotalSeconds:0.#} s, one caller thread opening and disposing children meanwhile").AppendLine()
            .AppendLine($"Quiet window timed before the first deadline: {Measure.F(Measure.Ms(firstDue - quietFrom), 0)} ms.").AppendLine()
            .AppendLine($"Machine: {Measure.Machine()}").AppendLine()
            .AppendLine($"Opened (with tokens, one callback each) in {Measure.F(openedMs, 0)} ms; expired {Measure.N(count - notFired)}, not fired within the bound {notFired}; " +
                        $"the caller saw every one expired {(expiredAt == 0 ? "never" : Measure.F(Measure.Ms(expiredAt - lastDue), 1) + " ms after the last deadline")}.").AppendLine()
            .AppendLine("| Caller's DetachedChild + Token + Dispose | calls | p50 µs | p99 µs | p99.9 µs | max µs | calls over 1 ms |")
            .AppendLine("| --- | ---: | ---: | ---: | ---: | ---: | ---: |");
        foreach (var (label, list) in new[] { ("before the first deadline", quiet), ("while the budgets expire", busy) })
        {
            var sample = list.ToArray();
            Array.Sort(sample);
            text.AppendLine($"| {label} | {Measure.N(sample.Length)} | {Measure.F(Measure.Percentile(sample, 50) * 1000)} | {Measure.F(Measure.Percentile(sample, 99) * 1000)} | " +
                            $"{Measure.F(Measure.Percentile(sample, 99.9) * 1000)} | {Measure.F((sample.Length == 0 ? double.NaN : sample[^1]) * 1000)} | {sample.Count(ms => ms > 1)} |");
        }

        return text.ToString();
    }

    private static void DisposeAll(IDisposable[] items)
    {
        for (var i = items.Length - 1; i >= 0; i--)
        {
            items[i]?.Dispose();
        }
    }

    private static void Collect()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
    }

    private sealed class Probe
    {
        private readonly StrongBox<int> _fired;
        public long Deadline;
        public long Fired;

        public Probe(StrongBox<int> fired) => _fired = fired;

        public void Fire()
        {
            Volatile.Write(ref Fired, Stopwatch.GetTimestamp());
            Interlocked.Increment(ref _fired.Value);
        }
    }
}
