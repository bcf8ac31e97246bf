using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;

namespace TimeoutBudget.Benchmarks;

/// <summary>Small helpers shared by the console experiments: percentiles, clock conversions, the machine line.</summary>
internal static class Measure
{
    public static readonly CultureInfo Invariant = CultureInfo.InvariantCulture;

    public static double Ms(long ticks) => ticks * 1000.0 / Stopwatch.Frequency;

    public static long Ticks(TimeSpan duration) => (long)(duration.Ticks * ((double)Stopwatch.Frequency / TimeSpan.TicksPerSecond));

    /// <summary>The nearest-rank percentile of an already sorted array.</summary>
    public static double Percentile(double[] sorted, double percent)
    {
        if (sorted.Length == 0)
        {
            return double.NaN;
        }

        var rank = (int)Math.Ceiling(percent / 100.0 * sorted.Length) - 1;
        return sorted[Math.Clamp(rank, 0, sorted.Length - 1)];
    }

    public static string F(double value, int decimals = 2) =>
        double.IsNaN(value) ? "n/a" : value.ToString("F" + decimals.ToString(Invariant), Invariant);

    public static string N(double value) => value.ToString("N0", Invariant);

    public static string Machine()
    {
        var load = "n/a";
        try
        {
            if (File.Exists("/proc/loadavg"))
            {
                load = string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3));
            }
        }
        catch (IOException)
        {
        }

        return $"{RuntimeInformation.OSDescription}, {RuntimeInformation.ProcessArchitecture}, {Environment.ProcessorCount} logical cores, " +
               $".NET {Environment.Version}, {(System.Runtime.GCSettings.IsServerGC ? "server" : "workstation")} GC, load average {load}";
    }

    /// <summary>Polls until <paramref name="done"/> holds or the bound passes; returns whether it held.</summary>
    public static bool WaitUntil(Func<bool> done, TimeSpan bound)
    {
        var until = Stopwatch.GetTimestamp() + Ticks(bound);
        while (!done())
        {
            if (Stopwatch.GetTimestamp() > until)
            {
                return false;
            }

            Thread.Sleep(5);
        }

        return true;
    }

    /// <summary>Finds the repository root (where TimeoutBudget.sln is), or null.</summary>
    public static string? RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(Directory.GetCurrentDirectory()); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "TimeoutBudget.sln")))
            {
                return dir.FullName;
            }
        }

        return null;
    }
}
