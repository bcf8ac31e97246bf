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
    TimeSpan Elapsed)
{
    /// <summary>How the project's own packages came in (or why they did not).</summary>
    public RestoredProject? Restore { get; init; }

    /// <summary>Compile errors of the same sources with the harness's references only (no restore), when --compare asked for them.</summary>
    public int? ErrorsWithoutRestore { get; init; }

    /// <summary>Binding every method body (compilation.GetDiagnostics), the part of a build the analyzers are compared with.</summary>
    public TimeSpan CompileTime { get; init; }

    /// <summary>
    /// Wall time of GetAnalysisResultAsync: the driver binds the whole compilation and runs the analyzers, so this minus
    /// <see cref="CompileTime"/> is the analyzers' wall-clock overhead, a cross-check of their summed execution time.
    /// </summary>
    public TimeSpan AnalysisWallTime { get; init; }

    /// <summary>Summed execution time of our analyzers on this compilation.</summary>
    public TimeSpan AnalyzerTime { get; init; }

    public string RestoreLine => Restore is null ? string.Empty
        : Restore.Restored
            ? $"{Restore.Status}, {Restore.Framework?.Alias}, {Restore.PackageAssemblies} package assemblies, framework from {Restore.FrameworkSource}"
            : Restore.Status;
}

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
    // Preview: real code already uses C# 14 (extension blocks, field) and the hosting Roslyn parses it; the analyzed
    // project's LangVersion is not evaluated.
    private static CSharpParseOptions ParseOptions(IEnumerable<string> symbols) => new(LanguageVersion.Preview, DocumentationMode.None, SourceCodeKind.Regular, symbols);

    private static readonly CSharpCompilationOptions CompilationOptions = new(
        OutputKind.DynamicallyLinkedLibrary,
        nullableContextOptions: NullableContextOptions.Enable,
        allowUnsafe: true,
        concurrentBuild: true);

    private readonly Dictionary<(string Repo, string Commit, string Project), ProjectResult> cache = [];
    private readonly ConcurrentDictionary<string, TimeSpan> analyzerTime = new(StringComparer.Ordinal);
    private readonly List<string> exceptionSamples = [];
    private readonly int sampleErrors;
    private readonly Restorer? restorer;
    private readonly bool compare;
    private readonly HarnessReferences harness = new();

    /// <param name="sampleErrors">How many compile errors to keep per compilation for printing.</param>
    /// <param name="restorer">Restores each project's own packages; null compiles against the harness's references only.</param>
    /// <param name="compare">Also count the compile errors without the restored references (a second compilation).</param>
    public AnalyzerRunner(int sampleErrors = 0, Restorer? restorer = null, bool compare = false)
    {
        this.sampleErrors = sampleErrors;
        this.restorer = restorer;
        this.compare = compare;
        Analyzers = typeof(DiagnosticIds).Assembly.GetTypes()
            .Where(t => !t.IsAbstract && typeof(DiagnosticAnalyzer).IsAssignableFrom(t) && t.GetCustomAttribute<DiagnosticAnalyzerAttribute>() is not null)
            .OrderBy(t => t.Name, StringComparer.Ordinal)
            .Select(t => (DiagnosticAnalyzer)Activator.CreateInstance(t)!)
            .ToImmutableArray();
        References = harness.All;
        WarmUp();
    }

    /// <summary>
    /// Pays the JIT of the analyzers and of the compiler paths they use on a small compilation whose times are discarded,
    /// so the first real project is not charged for it (measured: the first project's analyzer time was larger than its
    /// compile time before this).
    /// </summary>
    private void WarmUp()
    {
        const string Source = """
            using System;
            using System.Diagnostics;
            using System.Net.Http;
            using System.Threading;
            using System.Threading.Tasks;
            public sealed class WarmUp
            {
                private readonly HttpClient client = new() { Timeout = TimeSpan.FromSeconds(30) };
                public async Task<string> Get(CancellationToken token)
                {
                    using var cts = CancellationTokenSource.CreateLinkedTokenSource(token);
                    cts.CancelAfter(TimeSpan.FromSeconds(10));
                    var work = client.GetStringAsync("http://localhost/", cts.Token);
                    await Task.WhenAny(work, Task.Delay(5000));
                    Process.Start("true")!.WaitForExit();
                    return await work;
                }
            }
            """;
        var compilation = CSharpCompilation.Create("WarmUp", [CSharpSyntaxTree.ParseText(Source, ParseOptions(HarnessReferences.DefaultSymbols))], References, CompilationOptions);
        var options = new CompilationWithAnalyzersOptions(new AnalyzerOptions([]), onAnalyzerException: null, concurrentAnalysis: true, logAnalyzerExecutionTime: true, reportSuppressedDiagnostics: false);
        _ = compilation.WithAnalyzers(Analyzers, options).GetAnalysisResultAsync(CancellationToken.None).GetAwaiter().GetResult();
        _ = compilation.GetDiagnostics();
    }

    public ImmutableArray<DiagnosticAnalyzer> Analyzers { get; }

    public IReadOnlyList<MetadataReference> References { get; }

    public int AnalyzerExceptions { get; private set; }

    public IReadOnlyList<string> ExceptionSamples => exceptionSamples;

    public IReadOnlyDictionary<string, TimeSpan> AnalyzerTime => analyzerTime;

    public int Compilations => cache.Count;

    public TimeSpan RestoreTime => restorer?.Elapsed ?? TimeSpan.Zero;

    public ProjectResult Analyze(RepoSnapshot snapshot, ProjectClosure closure)
    {
        var key = (snapshot.Mirror.Repo, snapshot.Commit, closure.Root.Path);
        if (cache.TryGetValue(key, out var cached))
        {
            return cached;
        }

        var clock = Stopwatch.StartNew();
        var restore = restorer?.Restore(snapshot, closure.Root.Path, harness) ?? harness.Fallback("not restored (--no-restore)");
        var sources = closure.Sources.Select(s => (s.Path, Text: snapshot.Mirror.ReadText(s.Blob))).ToList();
        // The root project's evaluated Using items replace what the harness read from its files; referenced projects keep theirs.
        var usings = restore.Usings is { } evaluated ? closure.GlobalUsings.Concat(evaluated).Distinct(StringComparer.Ordinal).ToList() : closure.GlobalUsings.ToList();
        var compilation = Compile(sources, usings, closure.Root.Directory, restore.Symbols, restore.References);
        int? errorsWithoutRestore = null;
        if (compare && restore.Restored)
        {
            errorsWithoutRestore = Compile(sources, closure.GlobalUsings.ToList(), closure.Root.Directory, HarnessReferences.DefaultSymbols, harness.All).GetDiagnostics()
                .Count(d => d.Severity == DiagnosticSeverity.Error && d.Id.StartsWith("CS", StringComparison.Ordinal));
        }

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
        var analysisClock = Stopwatch.StartNew();
        var analysis = withAnalyzers.GetAnalysisResultAsync(CancellationToken.None).GetAwaiter().GetResult();
        var analysisTime = analysisClock.Elapsed;
        // WithAnalyzers binds a copy of the compilation, so this binds every method body again: the compile time.
        var compileClock = Stopwatch.StartNew();
        var compileDiagnostics = compilation.GetDiagnostics();
        var compileTime = compileClock.Elapsed;
        var diagnostics = analysis.GetAllDiagnostics().AddRange(compileDiagnostics);
        var ownTime = TimeSpan.Zero;
        foreach (var (analyzer, telemetry) in analysis.AnalyzerTelemetryInfo)
        {
            analyzerTime.AddOrUpdate(analyzer.GetType().Name, telemetry.ExecutionTime, (_, total) => total + telemetry.ExecutionTime);
            ownTime += telemetry.ExecutionTime;
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
        var result = new ProjectResult(closure.Root.Path, sources.Count, errors.Count, topErrors, samples, findings, exceptions, clock.Elapsed)
        {
            Restore = restore,
            ErrorsWithoutRestore = errorsWithoutRestore,
            CompileTime = compileTime,
            AnalyzerTime = ownTime,
            AnalysisWallTime = analysisTime,
        };
        cache[key] = result;
        return result;
    }

    private static CSharpCompilation Compile(List<(string Path, string Text)> sources, List<string> usings, string directory, IEnumerable<string> symbols, IEnumerable<MetadataReference> references)
    {
        var options = ParseOptions(symbols);
        var trees = new SyntaxTree[sources.Count];
        Parallel.For(0, sources.Count, i => trees[i] = CSharpSyntaxTree.ParseText(SourceText.From(sources[i].Text, Encoding.UTF8), options, sources[i].Path));
        var all = trees.ToList();
        if (usings.Count > 0)
        {
            var text = string.Concat(usings.Select(u => $"global using {(u.Contains('=', StringComparison.Ordinal) || u.StartsWith("static ", StringComparison.Ordinal) ? u : "global::" + u)};\n"));
            all.Add(CSharpSyntaxTree.ParseText(text, options, directory + "/obj/GlobalUsings.g.cs"));
        }

        // A program written with top-level statements is an executable (CS8805 otherwise, and its statements are never bound).
        var hasTopLevelStatements = trees.Any(t => t.GetRoot() is Microsoft.CodeAnalysis.CSharp.Syntax.CompilationUnitSyntax unit
            && unit.Members.OfType<Microsoft.CodeAnalysis.CSharp.Syntax.GlobalStatementSyntax>().Any());
        return CSharpCompilation.Create(Path.GetFileName(directory), all, references,
            hasTopLevelStatements ? CompilationOptions.WithOutputKind(OutputKind.ConsoleApplication) : CompilationOptions);
    }
}
