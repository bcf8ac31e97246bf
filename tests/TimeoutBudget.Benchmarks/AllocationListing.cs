using System.Diagnostics.Tracing;
using System.Text;

namespace TimeoutBudget.Benchmarks;

/// <summary>
/// Where a child budget's bytes go: the runtime's own allocation samples (GCAllocationTick, about one per 100 KB, with
/// the type name) while opening and disposing many children, and the exact bytes of each building block measured alone.
/// </summary>
internal static class AllocationListing
{
    private static readonly AsyncLocal<object?> Probe = new();

    public static string Run(int iterations)
    {
        var text = new StringBuilder();
        text.AppendLine($"Allocation listing. Machine: {Measure.Machine()}").AppendLine();
        foreach (var (label, action) in Contenders())
        {
            var samples = Sample(action, iterations);
            var total = samples.Values.Sum();
            text.AppendLine($"#### {label}: runtime allocation samples by type over {Measure.N(iterations)} calls").AppendLine()
                .AppendLine("| Type | share of sampled bytes |")
                .AppendLine("| --- | ---: |");
            foreach (var (type, bytes) in samples.OrderByDescending(pair => pair.Value).Take(12))
            {
                text.AppendLine($"| `{type}` | {Measure.F(100.0 * bytes / Math.Max(1, total), 1)} % |");
            }

            text.AppendLine();
        }

        text.AppendLine("#### Building blocks, exact bytes per operation measured alone (GC.GetAllocatedBytesForCurrentThread)").AppendLine()
            .AppendLine("| Operation | bytes | ns (rough, Stopwatch over 1M calls, same machine) |")
            .AppendLine("| --- | ---: | ---: |");
        using var outer = new CancellationTokenSource();
        var layer = "request";
        var root = Budget.Start("request", TimeSpan.FromHours(1));
        var sink = 0L;
        foreach (var (label, action) in new (string, Action)[]
                 {
                     ("new CancellationTokenSource()", () => GC.KeepAlive(new CancellationTokenSource())),
                     ("TimeProvider.System.CreateTimer + Dispose", () => TimeProvider.System.CreateTimer(static _ => { }, null, TimeSpan.FromSeconds(10), Timeout.InfiniteTimeSpan).Dispose()),
                     ("ExecutionContext.SuppressFlow + Undo", () => ExecutionContext.SuppressFlow().Undo()),
                     ("AsyncLocal set + restore (one value in the context)", () => { var before = Probe.Value; Probe.Value = layer; Probe.Value = before; }),
                     ("parent token UnsafeRegister + Dispose", () => outer.Token.UnsafeRegister(static _ => { }, null).Dispose()),
                     ("TimeProvider.System.GetTimestamp()", () => sink = TimeProvider.System.GetTimestamp()),
                     ("TimeProvider.System.GetUtcNow()", () => sink = TimeProvider.System.GetUtcNow().Ticks),
                     ("Path: parent.Path + \"/\" + layer", () => GC.KeepAlive(layer + "/" + "dependency")),
                     ("whole: TimeoutBudget Child + Token + Dispose", () =>
                     {
                         using var child = root.Child("dependency", TimeSpan.FromSeconds(10));
                         _ = child.Token;
                     }),
                     ("whole: CancellationTokenSource.CreateLinkedTokenSource + CancelAfter + Dispose", () =>
                     {
                         using var linked = CancellationTokenSource.CreateLinkedTokenSource(outer.Token);
                         linked.CancelAfter(TimeSpan.FromSeconds(10));
                     }),
                 })
        {
            text.AppendLine($"| {label} | {Measure.F(Exact(action), 0)} | {Measure.F(Time(action), 1)} |");
        }

        Probe.Value = "x";
        GC.KeepAlive(sink);
        Action swap = () => { var before = Probe.Value; Probe.Value = layer; Probe.Value = before; };
        text.AppendLine($"| (same AsyncLocal set + restore with a value already present) | {Measure.F(Exact(swap), 0)} | {Measure.F(Time(swap), 1)} |");
        Probe.Value = null;
        root.Dispose();
        return text.ToString();
    }

    private static IEnumerable<(string, Action)> Contenders()
    {
        var root = Budget.Start("request", TimeSpan.FromHours(1));
        yield return ("TimeoutBudget Child + Token + Dispose", () =>
        {
            using var child = root.Child("dependency", TimeSpan.FromSeconds(10));
            _ = child.Token;
        });
        var outer = new CancellationTokenSource();
        yield return ("raw linked CTS + CancelAfter + Dispose", () =>
        {
            using var linked = CancellationTokenSource.CreateLinkedTokenSource(outer.Token);
            linked.CancelAfter(TimeSpan.FromSeconds(10));
        });
    }

    private static double Time(Action action)
    {
        const int n = 1_000_000;
        var best = double.MaxValue;
        for (var round = 0; round < 3; round++)
        {
            var began = System.Diagnostics.Stopwatch.GetTimestamp();
            for (var i = 0; i < n; i++)
            {
                action();
            }

            best = Math.Min(best, Measure.Ms(System.Diagnostics.Stopwatch.GetTimestamp() - began) * 1e6 / n);
        }

        return best;
    }

    private static double Exact(Action action)
    {
        for (var i = 0; i < 1000; i++)
        {
            action();
        }

        const int n = 10_000;
        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < n; i++)
        {
            action();
        }

        return (GC.GetAllocatedBytesForCurrentThread() - before) / (double)n;
    }

    private static Dictionary<string, long> Sample(Action action, int iterations)
    {
        for (var i = 0; i < 10_000; i++)
        {
            action();
        }

        using var listener = new AllocationTickListener();
        for (var i = 0; i < iterations; i++)
        {
            action();
        }

        Thread.Sleep(500);
        return listener.Snapshot();
    }

    private sealed class AllocationTickListener : EventListener
    {
        private readonly Dictionary<string, long> _bytes = new(StringComparer.Ordinal);

        public Dictionary<string, long> Snapshot()
        {
            lock (_bytes)
            {
                return new Dictionary<string, long>(_bytes, StringComparer.Ordinal);
            }
        }

        protected override void OnEventSourceCreated(EventSource eventSource)
        {
            if (eventSource.Name == "Microsoft-Windows-DotNETRuntime")
            {
                EnableEvents(eventSource, EventLevel.Verbose, (EventKeywords)0x1);
            }
        }

        protected override void OnEventWritten(EventWrittenEventArgs eventData)
        {
            if (eventData.EventName is null || !eventData.EventName.StartsWith("GCAllocationTick", StringComparison.Ordinal) || eventData.PayloadNames is null)
            {
                return;
            }

            var typeIndex = eventData.PayloadNames.IndexOf("TypeName");
            var amountIndex = eventData.PayloadNames.IndexOf("AllocationAmount64");
            if (amountIndex < 0)
            {
                amountIndex = eventData.PayloadNames.IndexOf("AllocationAmount");
            }

            if (typeIndex < 0 || amountIndex < 0)
            {
                return;
            }

            var type = eventData.Payload![typeIndex] as string ?? "?";
            var amount = Convert.ToInt64(eventData.Payload[amountIndex], Measure.Invariant);
            lock (_bytes)
            {
                _bytes[type] = _bytes.GetValueOrDefault(type) + amount;
            }
        }
    }
}
