namespace TimeoutBudget.Analyzers.Tests;

/// <summary>
/// ASP.NET Core request timeouts as the outer bound of what an endpoint calls with the request token: seed 2's layers (a
/// server timeout around the calls a handler makes) written with .NET 8's request-timeout middleware.
/// </summary>
public class RequestTimeoutTests
{
    [Fact]
    public Task A_linked_token_source_longer_than_the_endpoint_request_timeout() => Verify<NestedTimeoutAnalyzer>.AnalyzerAsync("""
        using System;
        using System.Net.Http;
        using System.Threading;
        using Microsoft.AspNetCore.Builder;
        using Microsoft.AspNetCore.Http;

        public static class OrdersEndpoints
        {
            public static void Map(WebApplication app) =>
                app.MapGet("/orders/{id}", async (string id, HttpClient http, CancellationToken requestAborted) =>
                {
                    using var call = CancellationTokenSource.CreateLinkedTokenSource(requestAborted);
                    call.CancelAfter({|TB0001:TimeSpan.FromSeconds(10)|});
                    return await http.GetStringAsync($"http://inventory/{id}", call.Token);
                })
                .WithName("GetOrder")
                .WithRequestTimeout(TimeSpan.FromSeconds(5));
        }
        """);

    [Fact]
    public Task A_client_timeout_longer_than_the_action_attribute_timeout() => Verify<NestedTimeoutAnalyzer>.AnalyzerAsync("""
        using System;
        using System.Net.Http;
        using System.Threading.Tasks;
        using Microsoft.AspNetCore.Http.Timeouts;
        using Microsoft.AspNetCore.Mvc;

        public sealed class ReportsController : ControllerBase
        {
            private readonly HttpClient _warehouse = new() { Timeout = TimeSpan.FromSeconds(30) };

            [HttpGet("reports/{id}")]
            [RequestTimeout(2000)]
            public async Task<string> Get(string id) =>
                await {|TB0001:_warehouse.GetStringAsync($"http://warehouse/{id}", HttpContext.RequestAborted)|};
        }
        """);

    [Fact]
    public Task A_named_policy_defined_in_registration_code() => MultiFile.AnalyzerAsync<NestedTimeoutAnalyzer>(
        """
        using System;
        using Microsoft.Extensions.DependencyInjection;

        public static class Registration
        {
            public static void AddTimeouts(IServiceCollection services) =>
                services.AddRequestTimeouts(options => options.AddPolicy("fast", TimeSpan.FromSeconds(1)));
        }
        """,
        """
        using System;
        using System.Net.Http;
        using System.Threading;
        using System.Threading.Tasks;
        using Microsoft.AspNetCore.Http.Timeouts;
        using Microsoft.AspNetCore.Mvc;

        [RequestTimeout("fast")]
        public sealed class QuotesController : ControllerBase
        {
            [HttpGet("quotes")]
            public async Task<string> Get(CancellationToken cancellationToken)
            {
                using var attempt = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                attempt.CancelAfter({|TB0001:TimeSpan.FromSeconds(3)|});
                using var http = new HttpClient();
                return await http.GetStringAsync("http://quotes/", attempt.Token);
            }
        }
        """);

    [Fact]
    public Task The_default_policy_bounds_every_endpoint_without_its_own() => MultiFile.AnalyzerAsync<NestedTimeoutAnalyzer>(
        """
        using System;
        using Microsoft.AspNetCore.Http.Timeouts;
        using Microsoft.Extensions.DependencyInjection;

        public static class Registration
        {
            public static void AddTimeouts(IServiceCollection services) =>
                services.AddRequestTimeouts(options => options.DefaultPolicy = new RequestTimeoutPolicy { Timeout = TimeSpan.FromSeconds(5) });
        }
        """,
        """
        using System;
        using System.Net.Http;
        using System.Threading;
        using Microsoft.AspNetCore.Builder;
        using Microsoft.AspNetCore.Http;

        public static class Endpoints
        {
            public static void Map(WebApplication app)
            {
                app.MapGet("/slow", async (HttpClient http, CancellationToken ct) =>
                {
                    using var cts = CancellationTokenSource.CreateLinkedTokenSource(ct);
                    cts.CancelAfter({|TB0001:TimeSpan.FromSeconds(5)|});
                    return await http.GetStringAsync("http://slow/", cts.Token);
                });

                // Its own, longer request timeout: the 5 s source fits inside 30 s.
                app.MapGet("/report", async (HttpClient http, CancellationToken ct) =>
                {
                    using var cts = CancellationTokenSource.CreateLinkedTokenSource(ct);
                    cts.CancelAfter(TimeSpan.FromSeconds(5));
                    return await http.GetStringAsync("http://report/", cts.Token);
                }).WithRequestTimeout(TimeSpan.FromSeconds(30));

                // No request timeout at all.
                app.MapGet("/export", async (HttpClient http, CancellationToken ct) =>
                {
                    using var cts = CancellationTokenSource.CreateLinkedTokenSource(ct);
                    cts.CancelAfter(TimeSpan.FromSeconds(60));
                    return await http.GetStringAsync("http://export/", cts.Token);
                }).DisableRequestTimeout();
            }
        }
        """);

    [Fact]
    public Task Aligned_endpoint_calls_are_not_reported() => Verify<NestedTimeoutAnalyzer>.AnalyzerAsync("""
        using System;
        using System.Net.Http;
        using System.Threading;
        using System.Threading.Tasks;
        using Microsoft.AspNetCore.Http.Timeouts;
        using Microsoft.AspNetCore.Mvc;

        public sealed class StockController : ControllerBase
        {
            private readonly HttpClient _stock = new() { Timeout = TimeSpan.FromSeconds(5) };

            [HttpGet("stock")]
            [RequestTimeout(30000)]
            public Task<string> Get(CancellationToken cancellationToken) => _stock.GetStringAsync("http://stock/", cancellationToken);

            // Not an action's request token: a token handed to a helper is not bounded by the request timeout here.
            [RequestTimeout(1000)]
            public Task<string> Helper(HttpClient other, CancellationToken token) => other.GetStringAsync("http://x/", CancellationToken.None);
        }
        """);
}
