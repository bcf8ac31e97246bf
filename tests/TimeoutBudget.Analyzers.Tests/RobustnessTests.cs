using System.Collections.Immutable;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.Diagnostics;
using Microsoft.CodeAnalysis.Text;

namespace TimeoutBudget.Analyzers.Tests;

/// <summary>
/// The analyzers must never throw (AD0001) on any code, complete or broken. They are written so that they cannot throw rather
/// than wrapped in catch-alls, so these tests see every exception: the compiler's analyzer driver reports each one here.
/// </summary>
public class RobustnessTests
{
    internal const string ImplicitUsings = """
        global using System;
        global using System.Collections.Generic;
        global using System.IO;
        global using System.Linq;
        global using System.Net.Http;
        global using System.Threading;
        global using System.Threading.Tasks;
        """;

    internal static readonly ImmutableArray<DiagnosticAnalyzer> AllAnalyzers = typeof(TimeoutAnalyzer).Assembly.GetTypes()
        .Where(t => !t.IsAbstract && typeof(DiagnosticAnalyzer).IsAssignableFrom(t) && t.GetCustomAttributes(typeof(DiagnosticAnalyzerAttribute), false).Length > 0)
        .Select(t => (DiagnosticAnalyzer)Activator.CreateInstance(t)!)
        .ToImmutableArray();

    [Fact]
    public void Every_rule_is_covered_by_the_analyzers_under_test()
    {
        var ids = AllAnalyzers.SelectMany(a => a.SupportedDiagnostics).Select(d => d.Id).OrderBy(id => id, StringComparer.Ordinal);
        Assert.Equal(new[] { "TB0001", "TB0002", "TB0003", "TB0004", "TB0005", "TB0006", "TB0007", "TB0008" }, ids);
    }

    [Fact]
    public async Task Every_analyzer_runs_over_every_CSharp_file_in_the_repository_without_throwing()
    {
        var root = RepositoryRoot();
        var files = Directory.EnumerateFiles(root, "*.cs", SearchOption.AllDirectories)
            .Where(path => !path.Split(Path.DirectorySeparatorChar).Any(part => part is "bin" or "obj" or ".git"))
            .ToList();
        Assert.True(files.Count > 20, $"Expected the repository's sources under {root}, found {files.Count} files.");

        var trees = files.Select(path => CSharpSyntaxTree.ParseText(File.ReadAllText(path), CSharpParseOptions.Default.WithLanguageVersion(LanguageVersion.Latest), path)).ToList();
        trees.Add(CSharpSyntaxTree.ParseText(ImplicitUsings, path: "GlobalUsings.cs"));
        var plans = Directory.EnumerateFiles(root, "*.json", SearchOption.AllDirectories)
            .Where(path => !path.Split(Path.DirectorySeparatorChar).Any(part => part is "bin" or "obj" or ".git" or "node_modules"))
            .Select(path => (AdditionalText)new InMemoryAdditionalText(path.EndsWith("timeouts.json", StringComparison.Ordinal) ? path : Path.ChangeExtension(path, ".timeouts.json"), File.ReadAllText(path)))
            .ToImmutableArray();

        await AssertNoAnalyzerExceptionsAsync(trees, plans);
    }

    public static TheoryData<string> MalformedSources()
    {
        var data = new TheoryData<string>();
        foreach (var source in WellFormedSamples)
        {
            for (var cut = 17; cut < source.Length; cut += 23)
            {
                data.Add(source.Substring(0, cut));
            }

            data.Add(source.Replace(")", string.Empty, StringComparison.Ordinal));
            data.Add(source.Replace("TimeSpan.FromSeconds", "TimeSpan.FromSecondz", StringComparison.Ordinal));
        }

        data.Add("class C { void M() { var t = TimeSpan.FromSeconds(); new CancellationTokenSource(default, 3).CancelAfter(); Task.WhenAny(); Task.Delay(). } }");
        data.Add("class C { void M() { var x = TimeSpan.FromSeconds(1e308) * 1e308; var y = new TimeSpan(long.MaxValue) + TimeSpan.MaxValue; var z = TimeSpan.FromDays(int.MaxValue, int.MaxValue); } }");
        data.Add("class C { static readonly TimeSpan A = B; static readonly TimeSpan B = A; void M() { var c = new CancellationTokenSource(A); c.CancelAfter(B / 0); } }");
        return data;
    }

    [Theory]
    [MemberData(nameof(MalformedSources))]
    public async Task Every_analyzer_survives_broken_code(string source)
    {
        var trees = new List<SyntaxTree>
        {
            CSharpSyntaxTree.ParseText(source, path: "Broken.cs"),
            CSharpSyntaxTree.ParseText(ImplicitUsings, path: "GlobalUsings.cs"),
        };
        var plans = ImmutableArray.Create<AdditionalText>(
            new InMemoryAdditionalText("/broken/timeouts.json", source),
            new InMemoryAdditionalText("/broken/a.timeouts.json", "{ \"layer\": \"x\", \"timeout\": \"1s\", \"children\": [ { \"layer\": \"y\", \"timeout\": "));
        await AssertNoAnalyzerExceptionsAsync(trees, plans);
    }

    /// <summary>The samples the broken code is cut from are real code: they compile clean against the real packages.</summary>
    [Fact]
    public async Task The_well_formed_samples_compile_against_the_real_packages()
    {
        var references = await TestReferences.ResolveAsync();
        foreach (var source in WellFormedSamples)
        {
            var compilation = CSharpCompilation.Create(
                "Sample",
                new[] { CSharpSyntaxTree.ParseText(source, path: "Sample.cs"), CSharpSyntaxTree.ParseText(ImplicitUsings, path: "GlobalUsings.cs") },
                references,
                new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary, nullableContextOptions: NullableContextOptions.Enable));
            Assert.Empty(compilation.GetDiagnostics().Where(d => d.Severity == DiagnosticSeverity.Error));
        }
    }

    private static readonly string[] WellFormedSamples =
    {
        """
        using Amazon.SQS;
        class P
        {
            private readonly AmazonSQSClient _sqs = new AmazonSQSClient(new AmazonSQSConfig { Timeout = TimeSpan.FromSeconds(240), MaxErrorRetry = 3 });
            public Task Poll(string q) => Task.Run(() => _sqs.ReceiveMessageAsync(q).GetAwaiter().GetResult()).WaitAsync(TimeSpan.FromSeconds(180));
            public async Task Linked() { using var a = new CancellationTokenSource(1000); using var b = CancellationTokenSource.CreateLinkedTokenSource(a.Token, default); b.CancelAfter(2000); await _sqs.ReceiveMessageAsync("q", b.Token); }
        }
        """,
        """
        using Polly; using Polly.Retry; using TimeoutBudget; using Microsoft.Extensions.DependencyInjection;
        class Q
        {
            ResiliencePipeline Build() => new ResiliencePipelineBuilder().AddTimeout(TimeSpan.FromSeconds(10)).AddRetry(new RetryStrategyOptions { MaxRetryAttempts = 4 }).AddTimeout(TimeSpan.FromSeconds(5)).Build();
            void Configure(IServiceCollection s) => s.AddHttpClient("x", c => c.Timeout = Timeout.InfiniteTimeSpan).AddStandardResilienceHandler(o => { o.TotalRequestTimeout.Timeout = TimeSpan.FromSeconds(1); o.Retry.MaxRetryAttempts = 2; });
            async Task Run(HttpClient h) { using var b = Budget.Start("b", TimeSpan.FromSeconds(3)); using var c = b.Child("c", TimeSpan.FromSeconds(4)); await h.GetStringAsync("u"); await Task.WhenAny(h.GetStringAsync("u"), Task.Delay(5)); }
        }
        """,
    };

    private static async Task AssertNoAnalyzerExceptionsAsync(IReadOnlyList<SyntaxTree> trees, ImmutableArray<AdditionalText> additionalFiles)
    {
        var references = await TestReferences.ResolveAsync();
        var compilation = CSharpCompilation.Create(
            "Robustness",
            trees,
            references,
            new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary, nullableContextOptions: NullableContextOptions.Enable));

        // The bound catches a hang, not slowness (speed lives in the benchmarks): the whole repository, 1,000+ files, bound and
        // analyzed on a 2-core machine that may be busy takes one to three minutes.
        var (exceptions, diagnostics) = await AnalyzeAsync(compilation, additionalFiles, TimeSpan.FromMinutes(5));

        Assert.Empty(exceptions);
        Assert.DoesNotContain(diagnostics, d => d.Id is "AD0001" or "AD0002");
    }

    /// <summary>
    /// Every analyzer over <paramref name="compilation"/>, collecting each analyzer exception instead of letting the driver
    /// turn it into AD0001; a run longer than <paramref name="bound"/> fails instead of hanging the test.
    /// </summary>
    internal static async Task<(List<string> Exceptions, ImmutableArray<Diagnostic> Diagnostics)> AnalyzeAsync(
        Compilation compilation, ImmutableArray<AdditionalText> additionalFiles, TimeSpan bound)
    {
        var exceptions = new List<string>();
        var options = new CompilationWithAnalyzersOptions(
            new AnalyzerOptions(additionalFiles),
            (exception, analyzer, _) =>
            {
                lock (exceptions)
                {
                    exceptions.Add($"{analyzer.GetType().Name}: {exception}");
                }
            },
            concurrentAnalysis: true,
            logAnalyzerExecutionTime: false,
            reportSuppressedDiagnostics: false);
        using var timeout = new CancellationTokenSource(bound);
        try
        {
            var diagnostics = await compilation.WithAnalyzers(AllAnalyzers, options).GetAllDiagnosticsAsync(timeout.Token);
            return (exceptions, diagnostics);
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested)
        {
            throw new TimeoutException($"Analysis of {compilation.AssemblyName} took longer than {bound}.");
        }
    }

    internal static string RepositoryRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "Directory.Packages.props")) && Directory.Exists(Path.Combine(directory.FullName, "analyzers")))
            {
                return directory.FullName;
            }
        }

        throw new InvalidOperationException("The repository root (with Directory.Packages.props and analyzers/) was not found above " + AppContext.BaseDirectory);
    }

    private sealed class InMemoryAdditionalText : AdditionalText
    {
        private readonly SourceText _text;

        public InMemoryAdditionalText(string path, string text)
        {
            Path = path;
            _text = SourceText.From(text);
        }

        public override string Path { get; }

        public override SourceText GetText(CancellationToken cancellationToken = default) => _text;
    }
}
