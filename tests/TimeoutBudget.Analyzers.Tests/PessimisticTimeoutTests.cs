namespace TimeoutBudget.Analyzers.Tests;

/// <summary>
/// Polly v7's pessimistic timeout is a timed wait: it walks away from the delegate when the time is up (seed 000's shape, the
/// SDK call left running on a pool thread), so the delegate must take and pass on the token Polly cancels.
/// </summary>
public class PessimisticTimeoutTests
{
    [Fact]
    public Task A_delegate_without_a_token_or_that_drops_it_is_abandoned() => Verify<AbandonedWorkAnalyzer>.AnalyzerAsync("""
        using System;
        using System.Net.Http;
        using System.Threading;
        using System.Threading.Tasks;
        using Polly;
        using Polly.Timeout;

        public sealed class Inventory
        {
            private static readonly IAsyncPolicy Walkaway = Policy.TimeoutAsync(TimeSpan.FromSeconds(5), TimeoutStrategy.Pessimistic);
            private readonly HttpClient _http = new();

            public Task WithoutTokenAsync(string url) =>
                Walkaway.ExecuteAsync({|TB0004:() => _http.GetStringAsync(url)|});

            public Task DropsTheTokenAsync(string url) =>
                Walkaway.ExecuteAsync({|TB0004:ct => _http.GetStringAsync(url, CancellationToken.None)|}, CancellationToken.None);

            public Task MethodGroupAsync() => Walkaway.ExecuteAsync({|TB0004:RefreshAsync|});

            private Task RefreshAsync() => Task.CompletedTask;
        }
        """);

    [Fact]
    public Task A_delegate_that_passes_the_token_on_and_optimistic_timeouts_are_fine() => Verify<AbandonedWorkAnalyzer>.AnalyzerAsync("""
        using System;
        using System.Net.Http;
        using System.Threading;
        using System.Threading.Tasks;
        using Polly;
        using Polly.Timeout;

        public sealed class Inventory
        {
            private static readonly IAsyncPolicy Walkaway = Policy.TimeoutAsync(TimeSpan.FromSeconds(5), TimeoutStrategy.Pessimistic);
            private static readonly IAsyncPolicy Cooperative = Policy.TimeoutAsync(TimeSpan.FromSeconds(5));
            private readonly HttpClient _http = new();

            public Task PassesItOnAsync(string url) =>
                Walkaway.ExecuteAsync(ct => _http.GetStringAsync(url, ct), CancellationToken.None);

            // An optimistic timeout only cancels the token; it does not walk away, so nothing is abandoned.
            public Task OptimisticAsync(string url) => Cooperative.ExecuteAsync(() => _http.GetStringAsync(url));
        }
        """);
}
