using System.Collections.Immutable;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.Diagnostics;

namespace TimeoutBudget.Analyzers.Tests;

/// <summary>Messages name both timeouts, their values and where each was set, and say what goes wrong.</summary>
public class MessageTests
{
    private const string Seed000 = """
        using System;
        using System.Threading.Tasks;
        using Amazon.SQS;

        class Poller
        {
            private readonly AmazonSQSClient _sqs;

            public Poller()
            {
                var config = new AmazonSQSConfig { Timeout = TimeSpan.FromSeconds(240) };
                _sqs = new AmazonSQSClient(config);
            }

            public Task PollAsync(string queue) =>
                Task.Run(() => _sqs.ReceiveMessageAsync(queue).GetAwaiter().GetResult()).WaitAsync(TimeSpan.FromSeconds(180));
        }
        """;

    [Fact]
    public async Task TB0001_names_both_timeouts_their_values_places_and_consequence()
    {
        var diagnostic = Assert.Single(await DiagnosticsAsync(new NestedTimeoutAnalyzer(), Seed000));
        var message = diagnostic.GetMessage(System.Globalization.CultureInfo.InvariantCulture);
        Assert.Equal("TB0001", diagnostic.Id);
        Assert.Contains("the SDK timeout of '_sqs' (config.Timeout, per attempt) (240 s, set at Seed.cs:11)", message, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("the wait (180 s, set at Seed.cs:16)", message, StringComparison.Ordinal);
        Assert.Contains("the wait gives up after 180 s while the _sqs.ReceiveMessageAsync call, allowed 240 s, keeps running", message, StringComparison.Ordinal);
        // Reported where the two meet (the SDK call inside the wait), with both values as additional locations, inner first.
        Assert.Equal(16, diagnostic.Location.GetLineSpan().StartLinePosition.Line + 1);
        Assert.Equal(new[] { 11, 16 }, diagnostic.AdditionalLocations.Select(l => l.GetLineSpan().StartLinePosition.Line + 1));
    }

    [Theory]
    [InlineData("the wait", "The wait")]
    [InlineData("the handler's default AttemptTimeout", "The handler's default AttemptTimeout")]
    [InlineData("AttemptTimeout", "AttemptTimeout")]
    [InlineData("o.AttemptTimeout", "o.AttemptTimeout")]
    [InlineData("retryPolicy", "retryPolicy")]
    [InlineData("theirTimeout", "theirTimeout")]
    public void A_sentence_never_changes_the_case_of_a_code_name_it_starts_with(string description, string start) =>
        Assert.Equal(start, Model.Comparison.SentenceStart(description));

    [Fact]
    public async Task TB0004_says_the_wait_gives_up_while_the_work_keeps_running()
    {
        var diagnostic = Assert.Single(await DiagnosticsAsync(new AbandonedWorkAnalyzer(), Seed000));
        var message = diagnostic.GetMessage(System.Globalization.CultureInfo.InvariantCulture);
        Assert.Contains("The wait gives up after 180 s while the blocking code in Task.Run (allowed 240 s by the SDK timeout of '_sqs'", message, StringComparison.Ordinal);
        Assert.Contains("on a pool thread that a token cannot stop", message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task TB0002_states_the_arithmetic()
    {
        const string source = """
            using System;
            using Polly;
            using Polly.Retry;

            class Pipelines
            {
                public ResiliencePipeline Create() => new ResiliencePipelineBuilder()
                    .AddTimeout(TimeSpan.FromSeconds(30))
                    .AddRetry(new RetryStrategyOptions { MaxRetryAttempts = 2, Delay = TimeSpan.FromSeconds(1), BackoffType = DelayBackoffType.Linear })
                    .AddTimeout(TimeSpan.FromSeconds(10))
                    .Build();
            }
            """;
        var diagnostic = Assert.Single(await DiagnosticsAsync(new NestedTimeoutAnalyzer(), source));
        var message = diagnostic.GetMessage(System.Globalization.CultureInfo.InvariantCulture);
        Assert.Equal("TB0002", diagnostic.Id);
        Assert.Contains("3 attempts × 10 s", message, StringComparison.Ordinal);
        Assert.Contains("33 s", message, StringComparison.Ordinal);
        Assert.Contains("(30 s, set at Seed.cs:8)", message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Analyzers_do_nothing_in_a_compilation_without_the_types_they_understand()
    {
        const string source = "class C { int M() => 42; }";
        var compilation = CSharpCompilation.Create("Empty", new[] { CSharpSyntaxTree.ParseText(source) }, Array.Empty<MetadataReference>());
        var analyzers = ImmutableArray.Create<DiagnosticAnalyzer>(new NestedTimeoutAnalyzer(), new AbandonedWorkAnalyzer(), new UnboundedOperationAnalyzer(), new BudgetMisuseAnalyzer());
        var diagnostics = await compilation.WithAnalyzers(analyzers).GetAnalyzerDiagnosticsAsync();
        Assert.Empty(diagnostics);
    }

    [Fact]
    public async Task Seed001_layers_written_as_budgets_and_token_sources()
    {
        const string source = """
            using System;
            using System.Threading;
            using TimeoutBudget;

            class Seed001
            {
                public void Run()
                {
                    using var script = Budget.Start("script", TimeSpan.FromSeconds(60));
                    using var context = script.Child("context", TimeSpan.FromSeconds(65));
                    using var server = new CancellationTokenSource(TimeSpan.FromSeconds(30));
                    using var config = CancellationTokenSource.CreateLinkedTokenSource(server.Token);
                    config.CancelAfter(TimeSpan.FromSeconds(30));
                }
            }
            """;
        var budget = Assert.Single(await DiagnosticsAsync(new BudgetMisuseAnalyzer(), source));
        Assert.Contains("asks for 65 s", budget.GetMessage(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal);
        var nested = Assert.Single(await DiagnosticsAsync(new NestedTimeoutAnalyzer(), source));
        Assert.Equal("TB0001", nested.Id);
        Assert.Contains("equals", nested.GetMessage(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal);
    }

    [Fact]
    public async Task TB0006_for_Budget_Start_names_both_budgets_where_the_outer_one_opened_and_the_fix()
    {
        const string source = """
            using System;
            using TimeoutBudget;

            class Orders
            {
                public void Handle()
                {
                    using var orders = Budget.Start("orders", TimeSpan.FromSeconds(3));
                    using var request = Budget.Start("request", TimeSpan.FromSeconds(10));
                }
            }
            """;
        var diagnostic = Assert.Single(await DiagnosticsAsync(new BudgetMisuseAnalyzer(), source));
        Assert.Equal("TB0006", diagnostic.Id);
        Assert.Equal(
            "Budget.Start opens 'request' as a separate root with its own 10 s inside budget 'orders' (opened at line 8): it is not clamped to what 'orders' has left, so its children are sized from its own timeout and it ends only when 'orders' does; use Budget.Enter or orders.Child to open a nested layer",
            diagnostic.GetMessage(System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal(9, diagnostic.Location.GetLineSpan().StartLinePosition.Line + 1);
        Assert.Equal(new[] { 8 }, diagnostic.AdditionalLocations.Select(l => l.GetLineSpan().StartLinePosition.Line + 1));
    }

    [Fact]
    public async Task TB0002_names_the_enclosing_polly_timeout_once()
    {
        const string source = """
            using System;
            using System.Net.Http;
            using Microsoft.Extensions.DependencyInjection;
            using Polly;

            class Startup
            {
                public void Configure(IServiceCollection services) =>
                    services.AddHttpClient("api")
                        .AddPolicyHandler(Policy.TimeoutAsync<HttpResponseMessage>(TimeSpan.FromSeconds(5)))
                        .AddPolicyHandler(Policy<HttpResponseMessage>.Handle<HttpRequestException>().WaitAndRetryAsync(2, _ => TimeSpan.FromSeconds(1)))
                        .AddPolicyHandler(Policy.TimeoutAsync<HttpResponseMessage>(TimeSpan.FromSeconds(3)));
            }
            """;
        var diagnostic = Assert.Single(await DiagnosticsAsync(new NestedTimeoutAnalyzer(), source), d => d.Id == "TB0002");
        var message = diagnostic.GetMessage(System.Globalization.CultureInfo.InvariantCulture);
        Assert.Contains("the Polly timeout policy outside it (5 s, set at Seed.cs:10)", message, StringComparison.Ordinal);
        Assert.Single(System.Text.RegularExpressions.Regex.Matches(message, "set at Seed.cs:10"));
    }

    private static async Task<ImmutableArray<Diagnostic>> DiagnosticsAsync(DiagnosticAnalyzer analyzer, string source)
    {
        var references = await TestReferences.ResolveAsync();
        var compilation = CSharpCompilation.Create(
            "Messages",
            new[] { CSharpSyntaxTree.ParseText(source, path: "Seed.cs") },
            references,
            new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary));
        Assert.Empty(compilation.GetDiagnostics().Where(d => d.Severity == DiagnosticSeverity.Error));
        return await compilation.WithAnalyzers(ImmutableArray.Create(analyzer)).GetAnalyzerDiagnosticsAsync();
    }
}
