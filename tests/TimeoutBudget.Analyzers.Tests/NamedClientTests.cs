namespace TimeoutBudget.Analyzers.Tests;

/// <summary>A client created with <c>IHttpClientFactory.CreateClient("x")</c> has the timeout its registration gives it, wherever that is written.</summary>
public class NamedClientTests
{
    [Fact]
    public Task The_registered_timeout_of_a_named_client_meets_the_token_it_is_given() => MultiFile.AnalyzerAsync<NestedTimeoutAnalyzer>(
        """
        using System;
        using Microsoft.Extensions.DependencyInjection;

        public static class Registration
        {
            public static void AddClients(IServiceCollection services)
            {
                services.AddHttpClient("inventory", client => client.Timeout = TimeSpan.FromSeconds(30));
                services.AddHttpClient("pricing").ConfigureHttpClient(client => client.Timeout = TimeSpan.FromSeconds(3));
            }
        }
        """,
        """
        using System;
        using System.Net.Http;
        using System.Threading;
        using System.Threading.Tasks;

        public sealed class Quotes(IHttpClientFactory factory)
        {
            public async Task<string> InventoryAsync(CancellationToken cancellationToken)
            {
                var client = factory.CreateClient("inventory");
                using var request = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                request.CancelAfter(TimeSpan.FromSeconds(10));
                return await {|TB0001:client.GetStringAsync("http://inventory/", request.Token)|};
            }

            public async Task<string> PricingAsync(CancellationToken cancellationToken)
            {
                var client = factory.CreateClient("pricing");
                using var request = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                request.CancelAfter(TimeSpan.FromSeconds(10));
                return await client.GetStringAsync("http://pricing/", request.Token);
            }

            public async Task<string> UnregisteredAsync(CancellationToken cancellationToken)
            {
                var client = factory.CreateClient("unknown");
                using var request = new CancellationTokenSource(TimeSpan.FromSeconds(1));
                return await client.GetStringAsync("http://unknown/", request.Token);
            }
        }
        """);
}
