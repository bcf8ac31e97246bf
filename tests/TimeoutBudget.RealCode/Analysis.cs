using System.Collections.Concurrent;
using System.Collections.Immutable;
using System.Diagnostics;
using System.Reflection;
using System.Text;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.Diagnostics;
using Microsoft.CodeAnalysis.Text;
using TimeoutBudget.Analyzers;

namespace TimeoutBudget.RealCode;

/// <summary>One of our diagnostics, where it landed (repository-relative path, 1-based line).</summary>
internal sealed record Finding(string Id, string Path, int Line, string Message);

/// <summary>The outcome of analyzing one project closure at one commit.</summary>
internal sealed record ProjectResult(
    string Project,
    int Files,
    int CompileErrors,
    IReadOnlyList<string> TopErrors,
    IReadOnlyList<string> SampleErrors,
    IReadOnlyList<Finding> Findings,
    int AnalyzerExceptions,
    TimeSpan Elapsed);

/// <summary>An appsettings file handed to the analyzers as an AdditionalText, as the SDK does for AdditionalFiles items.</summary>
internal sealed class MirrorText(string path, string text) : AdditionalText
{
    public override string Path { get; } = path;

    public override SourceText GetText(CancellationToken cancellationToken = default) => SourceText.From(text, Encoding.UTF8);
}

/// <summary>
/// Compiles a project closure the way the SDK would roughly see it (no MSBuild, no packages of its own) and runs every
/// analyzer of TimeoutBudget.Analyzers over it. Results are cached per (repo, commit, project): several cases in one project compile once.
/// </summary>
internal sealed class AnalyzerRunner
{
    // What a net8+ build defines. Code under #if NETFRAMEWORK / NETSTANDARD stays inactive, as in the modern build of a multi-targeted project.
    private static readonly string[] PreprocessorSymbols =
    [
        "NET", "NETCOREAPP", "TRACE", "RELEASE",
        "NETCOREAPP1_0_OR_GREATER", "NETCOREAPP1_1_OR_GREATER", "NETCOREAPP2_0_OR_GREATER", "NETCOREAPP2_1_OR_GREATER",
        "NETCOREAPP2_2_OR_GREATER", "NETCOREAPP3_0_OR_GREATER", "NETCOREAPP3_1_OR_GREATER",
        "NET5_0_OR_GREATER", "NET6_0_OR_GREATER", "NET7_0_OR_GREATER", "NET8_0_OR_GREATER",
    ];

    private static readonly CSharpParseOptions ParseOptions = new(LanguageVersion.Latest, DocumentationMode.None, SourceCodeKind.Regular, PreprocessorSymbols);

    private static readonly CSharpCompilationOptions CompilationOptions = new(
        OutputKind.DynamicallyLinkedLibrary,
        nullableContextOptions: NullableContextOptions.Enable,
        allowUnsafe: true,
        concurrentBuild: true);

    private readonly Dictionary<(string Repo, string Commit, string Project), ProjectResult> cache = [];
    private readonly ConcurrentDictionary<string, TimeSpan> analyzerTime = new(StringComparer.Ordinal);
    private readonly List<string> exceptionSamples = [];
    private readonly int sampleErrors;

    public AnalyzerRunner(int sampleErrors = 0)
    {
        this.sampleErrors = sampleErrors;
        Analyzers = typeof(DiagnosticIds).Assembly.GetTypes()
            .Where(t => !t.IsAbstract && typeof(DiagnosticAnalyzer).IsAssignableFrom(t) && t.GetCustomAttribute<DiagnosticAnalyzerAttribute>() is not null)
            .OrderBy(t => t.Name, StringComparer.Ordinal)
            .Select(t => (DiagnosticAnalyzer)Activator.CreateInstance(t)!)
            .ToImmutableArray();
        References = PlatformReferences();
    }

    public ImmutableArray<DiagnosticAnalyzer> Analyzers { get; }

    public IReadOnlyList<MetadataReference> References { get; }

    public int AnalyzerExceptions { get; private set; }

    public IReadOnlyList<string> ExceptionSamples => exceptionSamples;

    public IReadOnlyDictionary<string, TimeSpan> AnalyzerTime => analyzerTime;

    public int Compilations => cache.Count;

    public ProjectResult Analyze(RepoSnapshot snapshot, ProjectClosure closure)
    {
        var key = (snapshot.Mirror.Repo, snapshot.Commit, closure.Root.Path);
        if (cache.TryGetValue(key, out var cached))
        {
            return cached;
        }

        var clock = Stopwatch.StartNew();
        var sources = closure.Sources.Select(s => (s.Path, Text: snapshot.Mirror.ReadText(s.Blob))).ToList();
        var trees = new SyntaxTree[sources.Count];
        Parallel.For(0, sources.Count, i => trees[i] = CSharpSyntaxTree.ParseText(SourceText.From(sources[i].Text, Encoding.UTF8), ParseOptions, sources[i].Path));
        var usings = closure.GlobalUsings.ToList();
        var all = trees.ToList();
        if (usings.Count > 0)
        {
            var text = string.Concat(usings.Select(u => $"global using {(u.Contains('=', StringComparison.Ordinal) || u.StartsWith("static ", StringComparison.Ordinal) ? u : "global::" + u)};\n"));
            all.Add(CSharpSyntaxTree.ParseText(text, ParseOptions, closure.Root.Directory + "/obj/GlobalUsings.g.cs"));
        }

        var compilation = CSharpCompilation.Create(Path.GetFileNameWithoutExtension(closure.Root.Path), all, References, CompilationOptions);
        var additional = closure.Root.AppSettings.Select(a => (AdditionalText)new MirrorText(a.Path, snapshot.Mirror.ReadText(a.Blob))).ToImmutableArray();
        var exceptions = 0;
        var options = new CompilationWithAnalyzersOptions(
            new AnalyzerOptions(additional),
            onAnalyzerException: (exception, analyzer, _) =>
            {
                Interlocked.Increment(ref exceptions);
                lock (exceptionSamples)
                {
                    if (exceptionSamples.Count < 10)
                    {
                        exceptionSamples.Add($"{analyzer.GetType().Name} in {closure.Root.Path}: {exception.GetType().Name}: {exception.Message}");
                    }
                }
            },
            concurrentAnalysis: true,
            logAnalyzerExecutionTime: true,
            reportSuppressedDiagnostics: false);
        var withAnalyzers = compilation.WithAnalyzers(Analyzers, options);
        // The analysis result carries the per-analyzer execution time; GetAnalyzerTelemetryInfoAsync answered 0 s after
        // GetAllDiagnosticsAsync (Roslyn 4.8, measured), so the compiler's own errors are asked of the compilation separately.
        var analysis = withAnalyzers.GetAnalysisResultAsync(CancellationToken.None).GetAwaiter().GetResult();
        var diagnostics = analysis.GetAllDiagnostics().AddRange(compilation.GetDiagnostics());
        foreach (var (analyzer, telemetry) in analysis.AnalyzerTelemetryInfo)
        {
            analyzerTime.AddOrUpdate(analyzer.GetType().Name, telemetry.ExecutionTime, (_, total) => total + telemetry.ExecutionTime);
        }

        var errors = diagnostics.Where(d => d.Severity == DiagnosticSeverity.Error && d.Id.StartsWith("CS", StringComparison.Ordinal)).ToList();
        var topErrors = errors.GroupBy(d => d.Id).OrderByDescending(g => g.Count()).ThenBy(g => g.Key, StringComparer.Ordinal).Take(3).Select(g => $"{g.Key}x{g.Count()}").ToList();
        var samples = errors.Take(sampleErrors).Select(d => d.ToString()).ToList();
        var findings = diagnostics
            .Where(d => d.Id.StartsWith("TB", StringComparison.Ordinal) && d.Location != Location.None)
            .Select(d => (Diagnostic: d, Span: d.Location.GetLineSpan()))
            .Select(x => new Finding(x.Diagnostic.Id, x.Span.Path, x.Span.StartLinePosition.Line + 1, x.Diagnostic.GetMessage(System.Globalization.CultureInfo.InvariantCulture)))
            .OrderBy(f => f.Path, StringComparer.Ordinal).ThenBy(f => f.Line).ThenBy(f => f.Id, StringComparer.Ordinal)
            .ToList();
        AnalyzerExceptions += exceptions;
        var result = new ProjectResult(closure.Root.Path, sources.Count, errors.Count, topErrors, samples, findings, exceptions, clock.Elapsed);
        cache[key] = result;
        return result;
    }

    /// <summary>
    /// The harness's own runtime: the shared frameworks plus the packages it references (Polly, AWS, resilience, gRPC) but
    /// not Roslyn or our own assemblies, which the analyzed code never references and whose types would only add noise.
    /// </summary>
    private static List<MetadataReference> PlatformReferences()
    {
        var trusted = (AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES") as string ?? string.Empty).Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries);
        return trusted
            .Where(p => p.EndsWith(".dll", StringComparison.OrdinalIgnoreCase))
            .Where(p =>
            {
                var name = Path.GetFileNameWithoutExtension(p);
                return !name.StartsWith("Microsoft.CodeAnalysis", StringComparison.OrdinalIgnoreCase)
                    && !name.StartsWith("TimeoutBudget", StringComparison.OrdinalIgnoreCase);
            })
            .Order(StringComparer.Ordinal)
            .Select(p => (MetadataReference)MetadataReference.CreateFromFile(p))
            .ToList();
    }
}
