using System.Collections.Immutable;
using System.Diagnostics;
using System.Globalization;
using System.Reflection;
using System.Runtime.Loader;
using System.Text;
using System.Text.Json;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.Diagnostics;
using Microsoft.CodeAnalysis.Operations;
using Microsoft.CodeAnalysis.Text;
using TimeoutBudget.Analyzers;

namespace TimeoutBudget.AnalyzerCorpus;

/// <summary>
/// <c>profile [project] [rounds]</c>: compiles a project in this process, as its build would (MSBuild evaluates its
/// sources, references and constants), and runs our analyzers next to CA2016 several times on fresh copies of the
/// compilation. The build-log measurement (<c>measure</c>) is the number we report; this one exists so that a profiler
/// (<c>dotnet-trace collect -- dotnet TimeoutBudget.AnalyzerCorpus.dll profile</c>) sees only the analyzers' work and
/// a change can be tried in a minute instead of a full rebuild.
/// </summary>
internal static class InProcessProfile
{
    private const string Ca2016Analyzer = "Microsoft.NetCore.CSharp.Analyzers.Runtime.CSharpForwardCancellationTokenToInvocationsAnalyzer";

    /// <param name="only">Run only our analyzers ("tb"), only CA2016 ("ca") or neither ("none"), so that the bytes a round
    /// allocates can be told apart by analyzer; null runs both.</param>
    public static int Run(string root, string? projectArgument, int rounds, string? only = null)
    {
        var project = projectArgument ?? Path.Combine(root, "artifacts", "corpus", "Corpus.csproj");
        if (!File.Exists(project))
        {
            Console.Error.WriteLine($"{project} does not exist; run `generate` (or `measure`) first.");
            return 2;
        }

        var clock = Stopwatch.StartNew();
        var evaluated = Evaluate(project);
        var parse = new CSharpParseOptions(LanguageVersion.Preview, DocumentationMode.None, SourceCodeKind.Regular, evaluated.Constants);
        var trees = evaluated.Sources.AsParallel().AsOrdered()
            .Select(path => CSharpSyntaxTree.ParseText(SourceText.From(File.ReadAllText(path), Encoding.UTF8), parse, path))
            .ToList();
        var references = evaluated.References.Select(r => (MetadataReference)MetadataReference.CreateFromFile(r)).ToList();
        var ca2016 = LoadCa2016();
        var ours = typeof(DiagnosticIds).Assembly.GetTypes()
            .Where(t => !t.IsAbstract && typeof(DiagnosticAnalyzer).IsAssignableFrom(t) && t.GetCustomAttribute<DiagnosticAnalyzerAttribute>() is not null)
            .Select(t => (DiagnosticAnalyzer)Activator.CreateInstance(t)!)
            .ToImmutableArray();
        var analyzers = only switch
        {
            "tb" => ours,
            "ca" => ca2016 is null ? [] : [ca2016],
            "none" => [],
            "probe-symbol" => [new ProbeAnalyzer(perType: true)],
            "probe-compilation" => [new ProbeAnalyzer(perType: false)],
            _ => ca2016 is null ? ours : ours.Add(ca2016),
        };
        // TB_SERIAL=1: one thread binds and analyzes, so that a change's effect is not lost in the contention and scheduling of a
        // concurrent run (warm rounds of a concurrent run differed by 3x on two cores).
        var concurrent = Environment.GetEnvironmentVariable("TB_SERIAL") != "1";
        var options = new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary, nullableContextOptions: NullableContextOptions.Enable, concurrentBuild: concurrent)
            .WithSpecificDiagnosticOptions([new KeyValuePair<string, ReportDiagnostic>("CA2016", ReportDiagnostic.Warn)]);
        Console.WriteLine($"{trees.Count:N0} files, {references.Count} references, evaluated and parsed in {clock.Elapsed.TotalSeconds:F1} s; CA2016 {(ca2016 is null ? "not found" : "loaded")}.");

        // TB_ALLOCATIONS=1: the runtime's allocation samples (one per ~100 KB) by type, to find who allocates what.
        using var allocations = Environment.GetEnvironmentVariable("TB_ALLOCATIONS") == "1" ? new AllocationSampler() : null;
        var steady = new List<(double Ours, double Ca2016)>();
        for (var round = 1; round <= rounds; round++)
        {
            // A new compilation each round: semantic models and bound trees are cached per compilation.
            var compilation = CSharpCompilation.Create(Path.GetFileNameWithoutExtension(project), trees, references, options);
            var bindClock = Stopwatch.StartNew();
            var compileErrors = compilation.GetDiagnostics().Count(d => d.Severity == DiagnosticSeverity.Error);
            var bind = bindClock.Elapsed;

            var analysisOptions = new CompilationWithAnalyzersOptions(new AnalyzerOptions([]), onAnalyzerException: null, concurrentAnalysis: concurrent, logAnalyzerExecutionTime: true, reportSuppressedDiagnostics: false);
            var analysisClock = Stopwatch.StartNew();
            var allocatedBefore = GC.GetTotalAllocatedBytes(precise: true);
            var fresh = CSharpCompilation.Create(compilation.AssemblyName, trees, references, options);
            var result = analyzers.IsEmpty
                ? null
                : fresh.WithAnalyzers(analyzers, analysisOptions).GetAnalysisResultAsync(CancellationToken.None).GetAwaiter().GetResult();
            if (result is null)
            {
                // Without analyzers, the same binding the driver does: every method body's diagnostics.
                _ = fresh.GetDiagnostics();
            }

            var analysis = analysisClock.Elapsed;
            var allocated = GC.GetTotalAllocatedBytes(precise: true) - allocatedBefore;
            if (result is null)
            {
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"round {round}: bind {bind.TotalSeconds:F2} s, bind again without analyzers {analysis.TotalSeconds:F2} s, {allocated / 1048576.0:F0} MiB allocated"));
                continue;
            }

            var oursTime = result.AnalyzerTelemetryInfo.Where(p => ours.Contains(p.Key) || p.Key is ProbeAnalyzer).Aggregate(TimeSpan.Zero, (sum, p) => sum + p.Value.ExecutionTime);
            var caTime = ca2016 is not null && result.AnalyzerTelemetryInfo.TryGetValue(ca2016, out var caInfo) ? caInfo.ExecutionTime : TimeSpan.Zero;
            var diagnostics = result.GetAllDiagnostics();
            if (round > 1)
            {
                steady.Add((oursTime.TotalSeconds, caTime.TotalSeconds));
            }

            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"round {round}: bind {bind.TotalSeconds:F2} s ({compileErrors} errors), bind+analyze {analysis.TotalSeconds:F2} s, {allocated / 1048576.0:F0} MiB allocated; TB {oursTime.TotalSeconds:F3} s ({diagnostics.Count(d => d.Id.StartsWith("TB", StringComparison.Ordinal)):N0} findings), CA2016 {caTime.TotalSeconds:F3} s ({diagnostics.Count(d => d.Id == "CA2016"):N0}), TB/CA2016 {(caTime > TimeSpan.Zero ? oursTime / caTime : double.NaN):F2}"));
        }

        allocations?.Print(top: 400);
        if (steady.Count > 0)
        {
            // The first round pays the JIT of both analyzers and of the compiler paths they use; a build's compiler server is warm.
            static double Median(IEnumerable<double> values)
            {
                var sorted = values.Order().ToList();
                return sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[(sorted.Count / 2) - 1] + sorted[sorted.Count / 2]) / 2;
            }

            var oursMedian = Median(steady.Select(s => s.Ours));
            var caMedian = Median(steady.Select(s => s.Ca2016));
            var ratio = Median(steady.Select(s => s.Ca2016 > 0 ? s.Ours / s.Ca2016 : double.NaN));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"median of rounds 2-{rounds}: TB {oursMedian:F3} s, CA2016 {caMedian:F3} s, TB/CA2016 {ratio:F2} (median of the per-round ratios); load average {(File.Exists("/proc/loadavg") ? File.ReadAllText("/proc/loadavg").Trim() : "n/a")}"));
        }

        return 0;
    }

    private sealed record EvaluatedProject(IReadOnlyList<string> Sources, IReadOnlyList<string> References, IReadOnlyList<string> Constants);

    /// <summary>The project's Compile items, resolved reference assemblies and constants, as MSBuild gives them to csc.</summary>
    private static EvaluatedProject Evaluate(string project)
    {
        var start = new ProcessStartInfo("dotnet", ["msbuild", project, "-nologo", "-p:Configuration=Release", "-t:FindReferenceAssembliesForReferences", "-getItem:ReferencePathWithRefAssemblies", "-getItem:Compile", "-getProperty:DefineConstants"])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using var process = Process.Start(start) ?? throw new InvalidOperationException("dotnet msbuild could not be started.");
        var errors = process.StandardError.ReadToEndAsync();
        var output = process.StandardOutput.ReadToEnd();
        if (!process.WaitForExit(TimeSpan.FromMinutes(5)) || process.ExitCode != 0)
        {
            throw new InvalidOperationException($"dotnet msbuild {project} failed: {output}{errors.Result}");
        }

        using var json = JsonDocument.Parse(output);
        var directory = Path.GetDirectoryName(Path.GetFullPath(project))!;
        IReadOnlyList<string> Items(string name) => json.RootElement.GetProperty("Items").GetProperty(name).EnumerateArray()
            .Select(i => i.GetProperty("FullPath").GetString() ?? Path.Combine(directory, i.GetProperty("Identity").GetString()!))
            .ToList();
        var constants = json.RootElement.GetProperty("Properties").GetProperty("DefineConstants").GetString() ?? string.Empty;
        return new EvaluatedProject(Items("Compile"), Items("ReferencePathWithRefAssemblies"), constants.Split(';', StringSplitOptions.RemoveEmptyEntries));
    }

    /// <summary>CA2016 from the SDK that runs this program, the same assembly the measured build loads.</summary>
    private static DiagnosticAnalyzer? LoadCa2016()
    {
        var sdk = Path.GetDirectoryName(typeof(object).Assembly.Location) is { } runtime
            ? Directory.GetDirectories(Path.GetFullPath(Path.Combine(runtime, "..", "..", "..", "sdk")))
                .OrderByDescending(d => d, StringComparer.Ordinal)
                .Select(d => Path.Combine(d, "Sdks", "Microsoft.NET.Sdk", "analyzers", "Microsoft.CodeAnalysis.CSharp.NetAnalyzers.dll"))
                .FirstOrDefault(File.Exists)
            : null;
        if (sdk is null)
        {
            return null;
        }

        var common = Path.Combine(Path.GetDirectoryName(sdk)!, "Microsoft.CodeAnalysis.NetAnalyzers.dll");
        AssemblyLoadContext.Default.LoadFromAssemblyPath(common);
        var assembly = AssemblyLoadContext.Default.LoadFromAssemblyPath(sdk);
        // By name: GetTypes() would load the code fixes, which need Workspaces.
        var type = assembly.GetType(Ca2016Analyzer);
        return type is null ? null : (DiagnosticAnalyzer)Activator.CreateInstance(type)!;
    }

    /// <summary>Counts the runtime's GCAllocationTick events (about one per 100 KB allocated) by the type that tipped each sample.</summary>
    private sealed class AllocationSampler : System.Diagnostics.Tracing.EventListener
    {
        private readonly System.Collections.Concurrent.ConcurrentDictionary<string, long> _bytesByType = new(StringComparer.Ordinal);

        protected override void OnEventSourceCreated(System.Diagnostics.Tracing.EventSource eventSource)
        {
            if (eventSource.Name == "Microsoft-Windows-DotNETRuntime")
            {
                EnableEvents(eventSource, System.Diagnostics.Tracing.EventLevel.Verbose, (System.Diagnostics.Tracing.EventKeywords)0x1);
            }
        }

        protected override void OnEventWritten(System.Diagnostics.Tracing.EventWrittenEventArgs eventData)
        {
            if (eventData.EventName is not { } name || !name.StartsWith("GCAllocationTick", StringComparison.Ordinal) || eventData.PayloadNames is null)
            {
                return;
            }

            var type = eventData.Payload![eventData.PayloadNames.IndexOf("TypeName")] as string ?? "?";
            var amountIndex = eventData.PayloadNames.IndexOf("AllocationAmount64");
            var amount = amountIndex >= 0 ? Convert.ToInt64(eventData.Payload[amountIndex], CultureInfo.InvariantCulture) : 100_000;
            _bytesByType.AddOrUpdate(type, amount, (_, sum) => sum + amount);
        }

        public void Print(int top)
        {
            var total = _bytesByType.Values.Sum();
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"allocation samples, all rounds: {total / 1048576.0:F0} MiB"));
            foreach (var (type, bytes) in _bytesByType.OrderByDescending(p => p.Value).Take(top))
            {
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{bytes / 1048576.0,9:F1} MiB  {type}"));
            }
        }
    }

#pragma warning disable RS1036, RS1041, RS2008 // Probes for measuring the driver, loaded only by this tool, never shipped.
    private static readonly OperationKind[] ProbeKinds =
    [
        OperationKind.SimpleAssignment, OperationKind.CompoundAssignment, OperationKind.CoalesceAssignment, OperationKind.ObjectCreation,
        OperationKind.FieldInitializer, OperationKind.PropertyInitializer, OperationKind.Invocation,
    ];

    private static readonly DiagnosticDescriptor Probe = new("PROBE", "probe", "probe", "probe", DiagnosticSeverity.Hidden, isEnabledByDefault: true);

    /// <summary>
    /// An analyzer with no work in it, to measure what the driver charges for a shape: operation actions registered per type
    /// in a symbol-start action, as ours are (<paramref name="perType"/>), or once for the compilation, as CA2016's are.
    /// </summary>
    [DiagnosticAnalyzer(LanguageNames.CSharp)]
    private sealed class ProbeAnalyzer(bool perType) : DiagnosticAnalyzer
    {
        public override ImmutableArray<DiagnosticDescriptor> SupportedDiagnostics => [Probe];

        public override void Initialize(AnalysisContext context)
        {
            context.EnableConcurrentExecution();
            context.ConfigureGeneratedCodeAnalysis(GeneratedCodeAnalysisFlags.Analyze | GeneratedCodeAnalysisFlags.ReportDiagnostics);
            context.RegisterCompilationStartAction(start =>
            {
                var seen = 0;
                if (!perType)
                {
                    start.RegisterOperationAction(_ => Interlocked.Increment(ref seen), ProbeKinds);
                    return;
                }

                start.RegisterSymbolStartAction(
                    symbol =>
                    {
                        symbol.RegisterOperationAction(_ => Interlocked.Increment(ref seen), ProbeKinds);
                        symbol.RegisterSymbolEndAction(_ => GC.KeepAlive(seen));
                    },
                    SymbolKind.NamedType);
            });
        }
    }
#pragma warning restore RS1036, RS1041, RS2008
}
