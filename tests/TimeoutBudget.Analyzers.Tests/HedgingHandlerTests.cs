namespace TimeoutBudget.Analyzers.Tests;

/// <summary>
/// Microsoft.Extensions.Http.Resilience's standard hedging handler: total request timeout → hedging → per-endpoint attempt
/// timeout (<c>Endpoint.Timeout</c>), options written through <c>Configure(…)</c> on the builder it returns.
/// </summary>
public class HedgingHandlerTests
{
    [Fact]
    public Task An_endpoint_timeout_not_shorter_than_the_total() => Verify<NestedTimeoutAnalyzer>.AnalyzerAsync("""
        using System;
        using Microsoft.Extensions.DependencyInjection;
        using Microsoft.Extensions.Http.Resilience;

        static class Registration
        {
            public static void AddCatalog(IServiceCollection services) =>
                services.AddHttpClient("catalog").{|TB0001:AddStandardHedgingHandler()|}.Configure(o =>
                {
                    o.TotalRequestTimeout.Timeout = TimeSpan.FromSeconds(5);
                    o.Endpoint.Timeout.Timeout = TimeSpan.FromSeconds(5);
                });
        }
        """);

    [Fact]
    public Task A_total_shorter_than_the_default_endpoint_timeout() => Verify<NestedTimeoutAnalyzer>.AnalyzerAsync("""
        using System;
        using Microsoft.Extensions.DependencyInjection;
        using Microsoft.Extensions.Http.Resilience;

        static class Registration
        {
            // The endpoint timeout's documented default (10 s) counts once the total is written.
            public static void AddCatalog(IServiceCollection services) =>
                services.AddHttpClient("catalog").{|TB0001:AddStandardHedgingHandler()|}.Configure(o => o.TotalRequestTimeout.Timeout = TimeSpan.FromSeconds(8));
        }
        """);

    [Fact]
    public Task A_hedging_delay_that_leaves_no_time_for_a_hedged_attempt() => Verify<NestedTimeoutAnalyzer>.AnalyzerAsync("""
        using System;
        using Microsoft.Extensions.DependencyInjection;
        using Microsoft.Extensions.Http.Resilience;

        static class Registration
        {
            public static void AddCatalog(IServiceCollection services) =>
                services.AddHttpClient("catalog").{|TB0002:AddStandardHedgingHandler()|}.Configure(o =>
                {
                    o.TotalRequestTimeout.Timeout = TimeSpan.FromSeconds(20);
                    o.Endpoint.Timeout.Timeout = TimeSpan.FromSeconds(4);
                    o.Hedging.Delay = TimeSpan.FromSeconds(25);
                });
        }
        """);

    [Fact]
    public Task A_hedging_handler_that_nests_or_keeps_its_defaults_is_not_reported() => Verify<NestedTimeoutAnalyzer>.AnalyzerAsync("""
        using System;
        using Microsoft.Extensions.DependencyInjection;
        using Microsoft.Extensions.Http.Resilience;

        static class Registration
        {
            public static void AddCatalog(IServiceCollection services)
            {
                services.AddHttpClient("catalog").AddStandardHedgingHandler().Configure(o =>
                {
                    o.TotalRequestTimeout.Timeout = TimeSpan.FromSeconds(30);
                    o.Endpoint.Timeout.Timeout = TimeSpan.FromSeconds(4);
                    o.Hedging.Delay = TimeSpan.FromMilliseconds(500);
                });

                // Microsoft's defaults only: their choice, not yours.
                services.AddHttpClient("search").AddStandardHedgingHandler();
            }
        }
        """);
}
