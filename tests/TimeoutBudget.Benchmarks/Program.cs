using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Running;
using BenchmarkDotNet.Toolchains.InProcess.Emit;

namespace TimeoutBudget.Benchmarks;

/// <summary>
/// Entry point. <c>-- --smoke</c>: everything, tiny, in seconds (CI). <c>-- scale [count]</c>: 100,000 live budgets.
/// <c>-- allocations</c>: where a child's bytes go. <c>-- structures [count]</c>: the deadline heap against a hierarchical timing wheel. <c>-- expiry [count] [spread ms]</c>: 1,000,000 live budgets expiring (over 1 s, or all at once with spread 0) while a caller opens children. <c>-- starvation</c>: the slow-dependency simulation, writes docs/images/starvation.svg. Anything else goes to
/// BenchmarkDotNet, e.g. <c>-- --filter '*HappyPath*'</c>.
/// </summary>
public static class Program
{
    public static int Main(string[] args)
    {
        if (args.Length > 0 && args[0] == "--smoke")
        {
            return Smoke();
        }

        if (args.Length > 0 && args[0] == "scale")
        {
            var count = args.Length > 1 ? int.Parse(args[1], Measure.Invariant) : 100_000;
            var report = ScaleExperiment.Run(count, TimeSpan.FromSeconds(1));
            Console.WriteLine(report);
            Save("scale.md", report);
            return 0;
        }

        if (args.Length > 0 && args[0] == "expiry")
        {
            var report = ScaleExperiment.ExpiryUnderLoad(args.Length > 1 ? int.Parse(args[1], Measure.Invariant) : 1_000_000,
                TimeSpan.FromMilliseconds(args.Length > 2 ? int.Parse(args[2], Measure.Invariant) : 1000));
            Console.WriteLine(report);
            Save("expiry.md", report);
            return 0;
        }

        if (args.Length > 0 && args[0] == "structures")
        {
            var (report, kept) = DeadlineStructureExperiment.Run(args.Length > 1 ? int.Parse(args[1], Measure.Invariant) : 1_000_000, 1_000_000);
            Console.WriteLine(report);
            Save("structures.md", report);
            return kept ? 0 : 1;
        }

        if (args.Length > 0 && args[0] == "allocations")
        {
            var report = AllocationListing.Run(args.Length > 1 ? int.Parse(args[1], Measure.Invariant) : 1_000_000);
            Console.WriteLine(report);
            Save("allocations.md", report);
            return 0;
        }

        if (args.Length > 0 && args[0] == "soak")
        {
            var budgets = args.Length > 1 ? long.Parse(args[1], Measure.Invariant) : 20_000_000;
            var (markdown, svg, kept) = SoakReport.Run(budgets);
            Console.WriteLine(markdown);
            Save("soak.md", markdown);
            SaveImage("soak.svg", svg);
            return kept ? 0 : 1;
        }

        if (args.Length > 0 && args[0] == "starvation")
        {
            var (markdown, svg) = StarvationExperiment.Run(StarvationSettings.Full);
            Console.WriteLine(markdown);
            Save("starvation.md", markdown);
            SaveImage("starvation.svg", svg);
            return 0;
        }

        var config = DefaultConfig.Instance.WithArtifactsPath(ArtifactsPath());
        BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args, config);
        return 0;
    }

    /// <summary>Every benchmark once, in process, plus the experiments at toy size: proves they run, measures nothing.</summary>
    private static int Smoke()
    {
        var job = Job.Dry.WithToolchain(InProcessEmitToolchain.Instance).WithId("smoke");
        var config = ManualConfig.CreateEmpty()
            .AddJob(job)
            .AddLogger(BenchmarkDotNet.Loggers.ConsoleLogger.Default)
            .AddColumnProvider(DefaultColumnProviders.Instance)
            .WithArtifactsPath(Path.Combine(Path.GetTempPath(), "timeoutbudget-bdn-smoke"))
            .WithOptions(ConfigOptions.DisableLogFile);
        var summaries = BenchmarkRunner.Run(typeof(Program).Assembly, config);
        var failed = summaries.Where(summary => summary.HasCriticalValidationErrors || summary.Reports.Any(report => !report.Success)).ToList();
        foreach (var summary in failed)
        {
            Console.Error.WriteLine($"smoke: {summary.Title} failed.");
        }

        Console.WriteLine(ScaleExperiment.Run(2_000, TimeSpan.FromMilliseconds(200)));
        Console.WriteLine(ScaleExperiment.ExpiryUnderLoad(2_000, TimeSpan.FromSeconds(1)));
        Console.WriteLine(AllocationListing.Run(20_000));
        var (structures, structuresKept) = DeadlineStructureExperiment.Run(2_000, 10_000);
        Console.WriteLine(structures);
        if (!structuresKept)
        {
            Console.Error.WriteLine("smoke: the deadline heap or the timing wheel took a deadline early or out of order.");
            return 1;
        }

        var (soak, soakSvg, soakKept) = SoakReport.Run(20_000);
        Console.WriteLine(soak);
        if (!soakKept || !soakSvg.StartsWith("<svg", StringComparison.Ordinal))
        {
            Console.Error.WriteLine("smoke: the soak broke an invariant or its plot is not an SVG.");
            return 1;
        }

        var (markdown, svg) = StarvationExperiment.Run(StarvationSettings.Smoke);
        Console.WriteLine(markdown);
        if (!svg.StartsWith("<svg", StringComparison.Ordinal))
        {
            Console.Error.WriteLine("smoke: the plot is not an SVG.");
            return 1;
        }

        Console.WriteLine(failed.Count == 0 ? "smoke: every benchmark and experiment ran." : $"smoke: {failed.Count} benchmark classes failed.");
        return failed.Count == 0 ? 0 : 1;
    }

    private static void SaveImage(string name, string svg)
    {
        var root = Measure.RepositoryRoot();
        if (root is not null)
        {
            var path = Path.Combine(root, "docs", "images", name);
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            File.WriteAllText(path, svg);
            Console.WriteLine($"Plot written to {path}");
        }
    }

    private static string ArtifactsPath() =>
        Path.Combine(Measure.RepositoryRoot() ?? Directory.GetCurrentDirectory(), "tests", "TimeoutBudget.Benchmarks", "BenchmarkDotNet.Artifacts");

    private static void Save(string name, string text)
    {
        var root = Measure.RepositoryRoot();
        if (root is null)
        {
            return;
        }

        var path = Path.Combine(root, "tests", "TimeoutBudget.Benchmarks", "results", name);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, text);
        Console.WriteLine($"Results written to {path}");
    }
}
