using System.Globalization;
using Microsoft.Diagnostics.Tracing.Etlx;
using Microsoft.Diagnostics.Tracing.Parsers.Clr;

namespace TimeoutBudget.AnalyzerCorpus;

/// <summary>
/// <c>stacks trace.nettrace [frame]</c>: where the allocations of a traced build come from. The trace is a compiler run
/// recorded with the runtime's allocation samples and their stacks
/// (<c>dotnet-trace collect --providers Microsoft-Windows-DotNETRuntime:0x1:5 -- csc @corpus.rsp</c>); the samples whose
/// stack holds a frame containing <c>frame</c> (default: our analyzer's assembly) are summed by that deepest frame, by
/// type, and by type and the few frames above it.
/// </summary>
internal static class AllocationStacks
{
    public static int Run(string trace, string frame)
    {
        using var log = new TraceLog(TraceLog.CreateFromEventPipeDataFile(trace));
        var byFrame = new Dictionary<string, double>(StringComparer.Ordinal);
        var byType = new Dictionary<string, double>(StringComparer.Ordinal);
        var byPath = new Dictionary<string, double>(StringComparer.Ordinal);
        double total = 0, matched = 0;
        foreach (var traced in log.Events)
        {
            if (traced is not GCAllocationTickTraceData sample)
            {
                continue;
            }

            double bytes = sample.AllocationAmount64;
            total += bytes;
            var frames = new List<string>();
            for (var call = sample.CallStack(); call is not null; call = call.Caller)
            {
                frames.Add(call.CodeAddress.FullMethodName ?? "?");
            }

            var deepest = frames.FindIndex(f => f.Contains(frame, StringComparison.Ordinal));
            if (deepest < 0)
            {
                continue;
            }

            matched += bytes;
            Add(byFrame, frames[deepest], bytes);
            Add(byType, sample.TypeName, bytes);
            Add(byPath, sample.TypeName + " @ " + string.Join(" < ", frames.Take(deepest + 1).Skip(Math.Max(0, deepest - 3))), bytes);
        }

        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{total / 1048576:F0} MiB sampled, {matched / 1048576:F0} MiB with a frame containing '{frame}' on the stack"));
        Print("by the deepest such frame", byFrame, 25);
        Print("by type", byType, 25);
        Print("by type and the frames above it", byPath, 40);
        return 0;
    }

    private static void Add(Dictionary<string, double> sums, string key, double bytes) => sums[key] = sums.GetValueOrDefault(key) + bytes;

    private static void Print(string title, Dictionary<string, double> sums, int top)
    {
        Console.WriteLine("== " + title);
        foreach (var (key, bytes) in sums.OrderByDescending(p => p.Value).Take(top))
        {
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{bytes / 1048576,8:F1} MiB  {key}"));
        }
    }
}
