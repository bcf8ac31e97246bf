using System.Collections.Immutable;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.Diagnostics;
using Microsoft.CodeAnalysis.Text;

namespace TimeoutBudget.Analyzers.Tests;

/// <summary>
/// Timeouts that live in appsettings.json (AdditionalFiles): bound options, GetValue, the indexer, the environment file's
/// override. A finding that rests on such a value is TB0008, so it can be tuned apart from what code writes.
/// </summary>
public class ConfigurationValuesTests
{
    // Seed 3: the API's client timeout must stay under the workflow's deadline; here the deployed value (30 s) does not.
    private const string BoundOptionsService = """
        using System;
        using System.Net.Http;
        using System.Threading;
        using System.Threading.Tasks;
        using Microsoft.Extensions.Configuration;
        using Microsoft.Extensions.DependencyInjection;
        using Microsoft.Extensions.Options;

        public sealed class WorkflowApiOptions
        {
            public int TimeoutSeconds { get; set; } = 15;
        }

        public static class Registration
        {
            public static void AddWorkflowApi(IServiceCollection services, IConfiguration configuration) =>
                services.Configure<WorkflowApiOptions>(configuration.GetSection("WorkflowApi"));
        }

        public sealed class WorkflowApi
        {
            private readonly HttpClient _http;

            public WorkflowApi(HttpClient http, IOptions<WorkflowApiOptions> options)
            {
                _http = http;
                _http.Timeout = TimeSpan.FromSeconds(options.Value.TimeoutSeconds);
            }

            public async Task<string> StepAsync(string url)
            {
                using var workflow = new CancellationTokenSource(TimeSpan.FromSeconds(20));
                using var response = await {|#0:_http.GetAsync(url, workflow.Token)|};
                return await response.Content.ReadAsStringAsync(workflow.Token);
            }
        }
        """;

    private const string BaseSettings = """
        {
          // Comments and trailing commas are allowed, as the host allows them.
          "Logging": { "LogLevel": { "Default": "Information" } },
          "WorkflowApi": { "TimeoutSeconds": 30, },
        }
        """;

    [Fact]
    public Task A_bound_options_value_from_appsettings_is_TB0008() =>
        Verify<NestedTimeoutAnalyzer>.AnalyzerAsync(Marked(BoundOptionsService, "TB0008"), null, ("/0/appsettings.json", BaseSettings));

    [Fact]
    public Task The_production_file_overrides_the_base_file() =>
        Verify<NestedTimeoutAnalyzer>.AnalyzerAsync(
            Unmarked(BoundOptionsService),
            null,
            ("/0/appsettings.json", BaseSettings),
            ("/0/appsettings.Production.json", """{ "WorkflowApi": { "TimeoutSeconds": "10" } }"""));

    [Fact]
    public Task The_environment_is_chosen_in_editorconfig() =>
        Verify<NestedTimeoutAnalyzer>.AnalyzerAsync(
            Marked(BoundOptionsService, "TB0008"),
            "timeout_budget.environment = Staging",
            ("/0/appsettings.json", """{ "WorkflowApi": { "TimeoutSeconds": 10 } }"""),
            ("/0/appsettings.Production.json", """{ "WorkflowApi": { "TimeoutSeconds": 10 } }"""),
            ("/0/appsettings.Staging.json", """{ "workflowapi": { "timeoutseconds": 45 } }"""));

    [Fact]
    public Task Without_the_key_the_declared_default_is_the_value_and_the_finding_is_TB0001() =>
        Verify<NestedTimeoutAnalyzer>.AnalyzerAsync(
            Marked(BoundOptionsService.Replace("= 15;", "= 25;", StringComparison.Ordinal), "TB0001"),
            null,
            ("/0/appsettings.json", """{ "Other": { "TimeoutSeconds": 5 } }"""));

    [Fact]
    public Task Options_bound_with_BindConfiguration_and_a_TimeSpan_value() => Verify<NestedTimeoutAnalyzer>.AnalyzerAsync(
        """
        using System;
        using System.Net.Http;
        using System.Threading;
        using System.Threading.Tasks;
        using Microsoft.Extensions.DependencyInjection;
        using Microsoft.Extensions.Options;

        public sealed class ReportsOptions
        {
            public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(5);
        }

        public static class Registration
        {
            public static void AddReports(IServiceCollection services) =>
                services.AddOptions<ReportsOptions>().BindConfiguration("Clients:Reports");
        }

        public sealed class Reports(HttpClient http, IOptionsMonitor<ReportsOptions> options)
        {
            public async Task<string> FetchAsync(string url)
            {
                http.Timeout = options.CurrentValue.Timeout;
                using var request = new CancellationTokenSource(TimeSpan.FromSeconds(60));
                using var response = await {|TB0008:http.GetAsync(url, request.Token)|};
                return await response.Content.ReadAsStringAsync(request.Token);
            }
        }
        """,
        null,
        ("/0/appsettings.json", """{ "Clients": { "Reports": { "Timeout": "00:02:00" } } }"""));

    [Fact]
    public Task GetValue_indexer_and_section_reads() => Verify<NestedTimeoutAnalyzer>.AnalyzerAsync(
        """
        using System;
        using System.Net.Http;
        using System.Threading;
        using System.Threading.Tasks;
        using Microsoft.Extensions.Configuration;

        // One client per reader: a client whose timeout is assigned in several places has no single value.
        public sealed class FeedsByGetValue(HttpClient http, IConfiguration configuration)
        {
            public async Task<string> GetAsync(string url)
            {
                http.Timeout = TimeSpan.FromSeconds(configuration.GetValue<int>("Feeds:TimeoutSeconds"));
                using var request = new CancellationTokenSource(TimeSpan.FromSeconds(20));
                using var response = await {|TB0008:http.GetAsync(url, request.Token)|};
                return await response.Content.ReadAsStringAsync(request.Token);
            }
        }

        public sealed class FeedsByIndexer(HttpClient http, IConfiguration configuration)
        {
            public async Task<string> GetAsync(string url)
            {
                var section = configuration.GetSection("Feeds");
                http.Timeout = TimeSpan.FromMilliseconds(int.Parse(section["TimeoutMilliseconds"]!));
                using var request = new CancellationTokenSource(TimeSpan.FromSeconds(20));
                using var response = await {|TB0008:http.GetAsync(url, request.Token)|};
                return await response.Content.ReadAsStringAsync(request.Token);
            }
        }

        public sealed class FeedsByDefault(HttpClient http, IConfiguration configuration)
        {
            public async Task<string> GetAsync(string url)
            {
                // No file sets this key: the default argument is the value, written in code, so the finding is TB0001.
                http.Timeout = TimeSpan.FromSeconds(configuration.GetValue("Feeds:Missing", 25));
                using var request = new CancellationTokenSource(TimeSpan.FromSeconds(20));
                using var response = await {|TB0001:http.GetAsync(url, request.Token)|};
                return await response.Content.ReadAsStringAsync(request.Token);
            }
        }
        """,
        null,
        ("/0/appsettings.json", """{ "Feeds": { "TimeoutSeconds": 25, "TimeoutMilliseconds": "30000" } }"""));

    [Fact]
    public Task Nested_settings_are_read_by_property_path() => Verify<NestedTimeoutAnalyzer>.AnalyzerAsync(
        """
        using System;
        using System.Net.Http;
        using System.Threading;
        using System.Threading.Tasks;
        using Microsoft.Extensions.Configuration;

        public sealed class AppSettings
        {
            public HttpSettings Http { get; set; } = new();
        }

        public sealed class HttpSettings
        {
            public int TimeoutSeconds { get; set; } = 5;
        }

        public sealed class Client(HttpClient http, IConfiguration configuration)
        {
            public async Task<string> GetAsync(string url)
            {
                var settings = configuration.Get<AppSettings>()!;
                http.Timeout = TimeSpan.FromSeconds(settings.Http.TimeoutSeconds);
                using var request = new CancellationTokenSource(TimeSpan.FromSeconds(20));
                using var response = await {|TB0008:http.GetAsync(url, request.Token)|};
                return await response.Content.ReadAsStringAsync(request.Token);
            }
        }
        """,
        null,
        ("/0/appsettings.json", """{ "Http": { "TimeoutSeconds": 20 } }"""));

    [Fact]
    public Task A_standard_handler_bound_straight_from_a_section() => Verify<NestedTimeoutAnalyzer>.AnalyzerAsync(
        """
        using Microsoft.Extensions.Configuration;
        using Microsoft.Extensions.DependencyInjection;

        public static class Registration
        {
            public static void AddGateway(IServiceCollection services, IConfiguration configuration)
            {
                services.AddHttpClient("gateway").{|TB0008:AddStandardResilienceHandler(configuration.GetSection("Resilience"))|};
                // The file sets nothing for this section: Microsoft's defaults, not reported.
                services.AddHttpClient("other").AddStandardResilienceHandler(configuration.GetSection("Unset"));
            }
        }
        """,
        null,
        ("/0/appsettings.json", """
            {
              "Resilience": {
                "Retry": { "MaxRetryAttempts": 3, "Delay": "00:00:02", "BackoffType": "Exponential" },
                "AttemptTimeout": { "Timeout": "00:00:15" },
                "TotalRequestTimeout": { "Timeout": "00:01:00" }
              }
            }
            """));

    [Fact]
    public Task A_polly_pipeline_from_nested_settings_bound_by_a_section_name_property() => MultiFile.AnalyzerAsync<NestedTimeoutAnalyzer>(
        TestReferences.Net80WithPackages,
        new[]
        {
            """
            using Microsoft.Extensions.Configuration;
            using Microsoft.Extensions.DependencyInjection;

            public sealed class ResilienceSettings
            {
                public static string SectionName => "Resilience";

                public RetrySettings Retry { get; set; } = new();

                public int TotalSeconds { get; set; }

                public int AttemptSeconds { get; set; }
            }

            public sealed class RetrySettings
            {
                public int Retries { get; set; }

                public int DelaySeconds { get; set; }
            }

            public static class Registration
            {
                public static void AddSettings(IServiceCollection services, IConfiguration configuration) =>
                    services.AddOptions<ResilienceSettings>().Bind(configuration.GetSection(ResilienceSettings.SectionName));
            }
            """,
            """
            using System;
            using System.Net.Http;
            using Polly;
            using Polly.Retry;

            public static class Pipelines
            {
                public static void Build(ResiliencePipelineBuilder<HttpResponseMessage> builder, ResilienceSettings settings) =>
                    builder
                        .AddTimeout(TimeSpan.FromSeconds(settings.TotalSeconds))
                        .{|TB0008:AddRetry(new RetryStrategyOptions<HttpResponseMessage>
                        {
                            MaxRetryAttempts = settings.Retry.Retries,
                            Delay = TimeSpan.FromSeconds(settings.Retry.DelaySeconds),
                        })|}
                        .AddTimeout(TimeSpan.FromSeconds(settings.AttemptSeconds));
            }
            """,
        },
        ("/0/appsettings.json", """{ "Resilience": { "TotalSeconds": 30, "AttemptSeconds": 10, "Retry": { "Retries": 3, "DelaySeconds": 2 } } }"""));

    [Fact]
    public async Task Options_declared_in_a_referenced_assembly_are_bound_too()
    {
        await TestReferences.PrepareAsync(TestReferences.Net80WithPackages);
        var test = new Microsoft.CodeAnalysis.CSharp.Testing.CSharpAnalyzerTest<NestedTimeoutAnalyzer, Microsoft.CodeAnalysis.Testing.DefaultVerifier>
        {
            ReferenceAssemblies = TestReferences.Net80WithPackages,
        };
        // Built as an assembly of its own and referenced as metadata, as a shared project is in a real build.
        var shared = CSharpCompilation.Create(
            "Shared",
            new[] { CSharpSyntaxTree.ParseText("namespace Shared; public sealed class ClientSettings { public int TimeoutSeconds { get; set; } = 5; }") },
            await TestReferences.ResolveAsync(),
            new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary));
        using var image = new MemoryStream();
        Assert.True(shared.Emit(image).Success);
        test.TestState.AdditionalReferences.Add(MetadataReference.CreateFromImage(image.ToArray()));
        test.TestState.Sources.Add(("/0/Client.cs", """
            using System;
            using System.Net.Http;
            using System.Threading;
            using System.Threading.Tasks;
            using Microsoft.Extensions.Configuration;
            using Microsoft.Extensions.DependencyInjection;
            using Microsoft.Extensions.Options;
            using Shared;

            public static class Registration
            {
                public static void Add(IServiceCollection services, IConfiguration configuration) =>
                    services.Configure<ClientSettings>(configuration.GetSection("Client"));
            }

            public sealed class Client(HttpClient http, IOptions<ClientSettings> settings)
            {
                public async Task<string> GetAsync(string url)
                {
                    http.Timeout = TimeSpan.FromSeconds(settings.Value.TimeoutSeconds);
                    using var request = new CancellationTokenSource(TimeSpan.FromSeconds(10));
                    return await {|TB0008:http.GetStringAsync(url, request.Token)|};
                }
            }
            """));
        test.TestState.AdditionalFiles.Add(("/0/appsettings.json", """{ "Client": { "TimeoutSeconds": 10 } }"""));
        await test.RunAsync();
    }

    [Theory]
    [InlineData("")]
    [InlineData("{")]
    [InlineData("{ \"WorkflowApi\": { \"TimeoutSeconds\": ")]
    [InlineData("{ \"WorkflowApi\": { \"TimeoutSeconds\": \"thirty\" } }")]
    [InlineData("[1, 2, {\"a\": [[[[]]]]}]")]
    [InlineData("{ \"WorkflowApi\": { \"TimeoutSeconds\": \"\\u00")]
    [InlineData("/* unterminated")]
    public Task Malformed_configuration_is_no_value_and_no_crash(string json) =>
        Verify<NestedTimeoutAnalyzer>.AnalyzerAsync(
            Unmarked(BoundOptionsService),
            null,
            ("/0/appsettings.json", json));

    [Fact]
    public async Task The_message_names_the_file_key_and_value_and_the_file_is_an_additional_location()
    {
        var diagnostic = Assert.Single(await DiagnosticsAsync(Unmarked(BoundOptionsService), ("appsettings.json", BaseSettings)));
        var message = diagnostic.GetMessage(System.Globalization.CultureInfo.InvariantCulture);
        Assert.Equal("TB0008", diagnostic.Id);
        Assert.Contains("(30 s, set at appsettings.json:4 (configuration key 'WorkflowApi:TimeoutSeconds' = \"30\"), read at Service.cs:", message, StringComparison.Ordinal);
        var inFile = Assert.Single(diagnostic.AdditionalLocations, l => l.Kind == LocationKind.ExternalFile);
        Assert.Equal("appsettings.json", inFile.GetLineSpan().Path);
        Assert.Equal(3, inFile.GetLineSpan().StartLinePosition.Line);
    }

    private static string Marked(string source, string id) => source.Replace("{|#0:", "{|" + id + ":", StringComparison.Ordinal);

    private static string Unmarked(string source) => source.Replace("{|#0:", string.Empty, StringComparison.Ordinal).Replace("|};", ";", StringComparison.Ordinal);

    private static async Task<ImmutableArray<Diagnostic>> DiagnosticsAsync(string source, params (string Path, string Text)[] files)
    {
        var compilation = CSharpCompilation.Create(
            "Configured",
            new[] { CSharpSyntaxTree.ParseText(source, path: "Service.cs") },
            await TestReferences.ResolveAsync(),
            new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary));
        Assert.Empty(compilation.GetDiagnostics().Where(d => d.Severity == DiagnosticSeverity.Error));
        var options = new AnalyzerOptions(files.Select(f => (AdditionalText)new InMemoryFile(f.Path, f.Text)).ToImmutableArray());
        return await compilation.WithAnalyzers(ImmutableArray.Create<DiagnosticAnalyzer>(new NestedTimeoutAnalyzer()), options).GetAnalyzerDiagnosticsAsync();
    }

    private sealed class InMemoryFile(string path, string text) : AdditionalText
    {
        public override string Path => path;

        public override SourceText GetText(CancellationToken cancellationToken = default) => SourceText.From(text);
    }
}
