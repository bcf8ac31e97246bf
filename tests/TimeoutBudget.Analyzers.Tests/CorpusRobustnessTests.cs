using System.Collections.Immutable;
using System.Diagnostics;
using System.Globalization;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using TimeoutBudget.AnalyzerCorpus;
using Xunit.Abstractions;

namespace TimeoutBudget.Analyzers.Tests;

/// <summary>
/// Issue 8, analyzer robustness at volume: every analyzer over the generated service corpus (compiled against the real
/// Polly, AWS SDK and resilience packages) and over randomly truncated and token-mutated variants of this repository's
/// test sources. Zero analyzer exceptions, and every file analysed within <see cref="PerFileBound"/>.
/// </summary>
/// <remarks>
/// CI runs a short pass. The documented long run: <c>TIMEOUTBUDGET_CORPUS_LINES=200000 TIMEOUTBUDGET_MUTANTS=5000
/// dotnet test tests/TimeoutBudget.Analyzers.Tests --filter FullyQualifiedName~CorpusRobustness</c>.
/// </remarks>
public sealed class CorpusRobustnessTests(ITestOutputHelper output)
{
    /// <summary>
    /// No single file (compilation and every analyzer) may take longer than this; a hang fails instead of waiting. Typical is
    /// well under a second and the slowest measured a few seconds; the bound is generous because CI runs test classes in
    /// parallel on 2 cores, and one mutant exceeded 60 s on a machine at load average 14 (2 December 2026) while passing in
    /// well under that alone: the bound is there to turn a hang into a failure, not to time the analyzer.
    /// </summary>
    private static readonly TimeSpan PerFileBound = TimeSpan.FromMinutes(5);

    private static readonly CSharpParseOptions Parse = CSharpParseOptions.Default.WithLanguageVersion(LanguageVersion.Latest);

    private static int Setting(string name, int fallback) =>
        int.TryParse(Environment.GetEnvironmentVariable(name), NumberStyles.None, CultureInfo.InvariantCulture, out var value) && value > 0 ? value : fallback;

    /// <summary>The running test host's own assemblies: the framework plus the real packages this project references.</summary>
    private static readonly Lazy<ImmutableArray<MetadataReference>> RuntimeReferences = new(() =>
        ((string)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES")!)
            .Split(Path.PathSeparator)
            .Where(path => path.EndsWith(".dll", StringComparison.OrdinalIgnoreCase))
            .Select(path => (MetadataReference)MetadataReference.CreateFromFile(path))
            .ToImmutableArray());

    [Fact]
    public async Task Every_analyzer_runs_over_the_generated_service_corpus_without_throwing_and_it_compiles_clean()
    {
        // Make sure the packages the corpus calls are loaded into the reference set.
        _ = typeof(Polly.ResiliencePipeline);
        _ = typeof(Amazon.SQS.AmazonSQSClient);
        _ = typeof(Microsoft.Extensions.DependencyInjection.ResilienceHttpClientBuilderExtensions);
        _ = typeof(Budget);

        var lines = Setting("TIMEOUTBUDGET_CORPUS_LINES", 20_000);
        var files = CorpusGenerator.Generate(lines).ToList();
        var trees = files.Select(f => CSharpSyntaxTree.ParseText(f.Text, Parse, f.Name)).ToList();
        trees.Add(CSharpSyntaxTree.ParseText(RobustnessTests.ImplicitUsings, Parse, "GlobalUsings.cs"));
        var compilation = CSharpCompilation.Create("Corpus", trees, RuntimeReferences.Value,
            new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary, nullableContextOptions: NullableContextOptions.Enable));

        // Fully bound code is what a real build hands the analyzers; a generator drifting from the real APIs would hide that.
        var errors = compilation.GetDiagnostics().Where(d => d.Severity == DiagnosticSeverity.Error).Take(5).ToList();
        Assert.True(errors.Count == 0, "The corpus does not compile:\n" + string.Join('\n', errors));

        var clock = Stopwatch.StartNew();
        var (exceptions, diagnostics) = await RobustnessTests.AnalyzeAsync(compilation, [], TimeSpan.FromTicks(PerFileBound.Ticks * Math.Max(1, files.Count / 10)));
        Assert.Empty(exceptions);
        Assert.DoesNotContain(diagnostics, d => d.Id is "AD0001" or "AD0002");

        // The corpus is meant to give every code rule real work; if a rule went silent the measurement would flatter us.
        var ours = diagnostics.Where(d => d.Id.StartsWith("TB", StringComparison.Ordinal)).ToList();
        var fired = ours.Select(d => d.Id).ToHashSet();
        foreach (var id in new[] { "TB0001", "TB0002", "TB0004", "TB0005" })
        {
            Assert.Contains(id, fired);
        }

        output.WriteLine($"corpus: {lines:N0}+ lines in {files.Count:N0} files, {ours.Count:N0} diagnostics ({string.Join(", ", fired.Order(StringComparer.Ordinal))}), 0 analyzer exceptions, {clock.Elapsed.TotalSeconds:F1} s");
    }

    [Fact]
    public async Task Every_analyzer_survives_thousands_of_truncated_and_token_mutated_test_sources()
    {
        var count = Setting("TIMEOUTBUDGET_MUTANTS", 300);
        var sources = Directory.EnumerateFiles(Path.Combine(RobustnessTests.RepositoryRoot(), "tests"), "*.cs", SearchOption.AllDirectories)
            .Where(path => !path.Split(Path.DirectorySeparatorChar).Any(part => part is "bin" or "obj"))
            .Order(StringComparer.Ordinal)
            .Select(File.ReadAllText)
            .ToList();
        Assert.True(sources.Count > 20, $"found only {sources.Count} test sources");

        var references = await TestReferences.ResolveAsync();
        var shared = new[]
        {
            CSharpSyntaxTree.ParseText(RobustnessTests.ImplicitUsings, Parse, "GlobalUsings.cs"),
        };
        var random = new Random(8);
        var slowest = TimeSpan.Zero;
        var kinds = new Dictionary<string, int>(StringComparer.Ordinal);
        for (var i = 0; i < count; i++)
        {
            var source = sources[random.Next(sources.Count)];
            var (kind, mutant) = Mutate(source, random);
            kinds[kind] = kinds.GetValueOrDefault(kind) + 1;
            var compilation = CSharpCompilation.Create("Mutant" + i, [.. shared, CSharpSyntaxTree.ParseText(mutant, Parse, "Mutant.cs")], references,
                new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary, nullableContextOptions: NullableContextOptions.Enable));

            var clock = Stopwatch.StartNew();
            var (exceptions, diagnostics) = await RobustnessTests.AnalyzeAsync(compilation, [], PerFileBound);
            slowest = clock.Elapsed > slowest ? clock.Elapsed : slowest;
            Assert.True(exceptions.Count == 0, $"mutant {i} ({kind}) made an analyzer throw:\n{string.Join('\n', exceptions)}\n--- source ---\n{mutant}");
            Assert.DoesNotContain(diagnostics, d => d.Id is "AD0001" or "AD0002");
        }

        output.WriteLine($"mutants: {count:N0} from {sources.Count} test sources ({string.Join(", ", kinds.OrderBy(k => k.Key, StringComparer.Ordinal).Select(k => $"{k.Key} {k.Value}"))}), 0 analyzer exceptions, slowest file {slowest.TotalMilliseconds:F0} ms");
    }

    private static readonly string[] Replacements =
    [
        "(", ")", "{", "}", ";", ",", ".", "=>", "await", "default", "null", "-1", "0", "1e309", "int.MaxValue", "long.MinValue",
        "TimeSpan.MaxValue", "TimeSpan.FromSeconds(", "Timeout.InfiniteTimeSpan", "new CancellationTokenSource(", ".CancelAfter(",
        "Task.WhenAny(", "Task.Delay(", ".WaitAsync(", "Budget.Start(\"x\", ", ".Child(", "\"", "@\"", "$\"{", "/*", "#if", "<", ">",
    ];

    /// <summary>One random damage: cut the file, or delete, duplicate, swap or replace one of its tokens.</summary>
    private static (string Kind, string Text) Mutate(string source, Random random)
    {
        var kind = random.Next(5);
        if (kind == 0 || source.Length < 10)
        {
            return ("truncated", source[..random.Next(source.Length)]);
        }

        var tokens = CSharpSyntaxTree.ParseText(source, Parse).GetRoot().DescendantTokens().Where(t => t.Span.Length > 0).ToList();
        var token = tokens[random.Next(tokens.Count)];
        var before = source[..token.SpanStart];
        var after = source[token.Span.End..];
        switch (kind)
        {
            case 1:
                return ("deleted", before + after);
            case 2:
                return ("duplicated", before + token.Text + " " + token.Text + after);
            case 3:
                var other = tokens[random.Next(tokens.Count)];
                return other.SpanStart > token.Span.End
                    ? ("swapped", before + other.Text + source[token.Span.End..other.SpanStart] + token.Text + source[other.Span.End..])
                    : ("deleted", before + after);
            default:
                return ("replaced", before + Replacements[random.Next(Replacements.Length)] + after);
        }
    }
}
