namespace TimeoutBudget.Analyzers.Tests;

/// <summary>
/// Polly v7 through IHttpClientFactory, compiled against the real packages: HttpClient.Timeout wraps every handler, the first
/// handler added is the outermost, and a retry repeats what is inside it within what is outside it.
/// </summary>
public class PollyV7RegistrationTests
{
    [Fact]
    public Task Timeout_policy_longer_than_the_client_timeout_set_in_a_configure_method() => MultiFile.AnalyzerAsync<NestedTimeoutAnalyzer>(MultiFile.PollyV7Service, """
        using System;
        using System.Net.Http;
        using Microsoft.Extensions.DependencyInjection;
        using Polly;
        using Polly.Extensions.Http;

        public static class ReleaseSetup
        {
            private const int RetryCount = 3;
            private static readonly TimeSpan ClientTimeout = TimeSpan.FromSeconds(30);
            private static readonly TimeSpan PolicyTimeout = ClientTimeout.Add(TimeSpan.FromSeconds(1));
            private static readonly TimeSpan SleepDuration = TimeSpan.FromMilliseconds(600);

            public static IServiceCollection AddReleaseClient(this IServiceCollection services) =>
                services
                    .AddHttpClient("releases", configureClient: ConfigureClient)
                    .SetHandlerLifetime(TimeSpan.FromMinutes(5))
                    .AddPolicyHandler({|TB0001:Policy.TimeoutAsync<HttpResponseMessage>(PolicyTimeout)|})
                    .AddTransientHttpErrorPolicy(b => b.WaitAndRetryAsync(retryCount: RetryCount, sleepDurationProvider: _ => SleepDuration))
                    .Services;

            private static void ConfigureClient(HttpClient client) => client.Timeout = ClientTimeout;
        }
        """);

    [Fact]
    public Task Retry_wrapping_a_per_attempt_timeout_that_cannot_fit_the_client_timeout() => MultiFile.AnalyzerAsync<NestedTimeoutAnalyzer>(MultiFile.PollyV7Service, """
        using System;
        using System.Net.Http;
        using Microsoft.Extensions.DependencyInjection;
        using Polly;
        using Polly.Contrib.WaitAndRetry;
        using Polly.Extensions.Http;
        using Polly.Timeout;

        public static class Clients
        {
            public static void Register(IServiceCollection services)
            {
                var retryPolicy = HttpPolicyExtensions
                    .HandleTransientHttpError()
                    .Or<TimeoutRejectedException>()
                    .WaitAndRetryAsync(Backoff.DecorrelatedJitterBackoffV2(medianFirstRetryDelay: TimeSpan.FromMilliseconds(750), retryCount: 6))
                    .WrapAsync(Policy.TimeoutAsync<HttpResponseMessage>(TimeSpan.FromSeconds(60)));

                services.AddHttpClient("analytics")
                    .ConfigureHttpClient((sp, c) => c.Timeout = TimeSpan.FromMinutes(5))
                    .AddPolicyHandler({|TB0002:retryPolicy|});

                // The same policy under an hour fits.
                services.AddHttpClient("models")
                    .ConfigureHttpClient(c => c.Timeout = TimeSpan.FromHours(1))
                    .AddPolicyHandler(retryPolicy);

                // Nothing written around it: HttpClient's unwritten 100 s default is not the user's timeout.
                services.AddHttpClient("updates").AddPolicyHandler(retryPolicy);
            }
        }
        """);

    // The lambda's own sleep-duration lambda returns too; only the outer lambda's return is the policy (docs/rules/TB0002.md).
    [Fact]
    public Task Not_even_one_retry_can_start_when_the_retry_is_a_transient_error_policy_lambda() => MultiFile.AnalyzerAsync<NestedTimeoutAnalyzer>(MultiFile.PollyV7Service, """
        using System;
        using System.Net.Http;
        using Microsoft.Extensions.DependencyInjection;
        using Polly;

        public static class Clients
        {
            public static void Register(IServiceCollection services)
            {
                services.AddHttpClient("slow")
                    .AddPolicyHandler(Policy.TimeoutAsync<HttpResponseMessage>(5))
                    .AddTransientHttpErrorPolicy({|TB0002:b => b.WaitAndRetryAsync(3, attempt => TimeSpan.FromSeconds(Math.Pow(2, attempt + 2)))|});
            }
        }
        """);

    [Fact]
    public Task Not_even_one_retry_can_start_inside_an_outer_timeout_policy() => MultiFile.AnalyzerAsync<NestedTimeoutAnalyzer>(MultiFile.PollyV7Service, """
        using System;
        using System.Net.Http;
        using Microsoft.Extensions.DependencyInjection;
        using Polly;
        using Polly.Extensions.Http;

        public static class Clients
        {
            public static void Register(IServiceCollection services)
            {
                services.AddHttpClient("slow")
                    .AddPolicyHandler(Policy.TimeoutAsync<HttpResponseMessage>(5))
                    .AddPolicyHandler({|TB0002:GetRetryPolicy()|});

                // Retry until the deadline: twenty retries under a total timeout is the idiom, not a bug.
                services.AddHttpClient("patient")
                    .ConfigureHttpClient(c => c.Timeout = TimeSpan.FromSeconds(30))
                    .AddTransientHttpErrorPolicy(b => b.WaitAndRetryAsync(20, attempt => TimeSpan.FromSeconds(1)))
                    .AddPolicyHandler(Policy.TimeoutAsync<HttpResponseMessage>(TimeSpan.FromSeconds(5)));
            }

            private static IAsyncPolicy<HttpResponseMessage> GetRetryPolicy() =>
                HttpPolicyExtensions.HandleTransientHttpError()
                    .WaitAndRetryAsync(3, retryAttempt => TimeSpan.FromSeconds(Math.Pow(2, retryAttempt + 2)));
        }
        """);

    [Fact]
    public Task Typed_client_constructor_sets_the_timeout_that_wraps_the_policy() => MultiFile.AnalyzerAsync<NestedTimeoutAnalyzer>(MultiFile.PollyV7Service, """
        using System;
        using System.Net.Http;
        using Microsoft.Extensions.DependencyInjection;
        using Polly;

        public static class Registration
        {
            public static void Register(IServiceCollection services) =>
                services.AddHttpClient<CatalogClient>()
                    .AddPolicyHandler({|TB0001:Policy.TimeoutAsync<HttpResponseMessage>(TimeSpan.FromSeconds(15))|});
        }
        """, """
        using System;
        using System.Net.Http;

        public sealed class CatalogClient
        {
            private readonly HttpClient _http;

            public CatalogClient(HttpClient http)
            {
                _http = http;
                _http.Timeout = TimeSpan.FromSeconds(10);
            }
        }
        """);
}
