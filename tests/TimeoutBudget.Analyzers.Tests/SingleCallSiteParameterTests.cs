namespace TimeoutBudget.Analyzers.Tests;

/// <summary>A private method's timeout parameter is known when its one call site passes the value explicitly.</summary>
public class SingleCallSiteParameterTests
{
    [Fact]
    public Task A_private_probe_with_one_caller() => Verify<NestedTimeoutAnalyzer>.AnalyzerAsync("""
        using System;
        using System.Net.Http;
        using System.Threading;
        using System.Threading.Tasks;

        public sealed class ServerManager
        {
            private static readonly HttpClient Probe = new() { Timeout = TimeSpan.FromMinutes(5) };

            public Task<bool> StartAsync(CancellationToken cancellationToken) => IsHealthyAsync(TimeSpan.FromSeconds(2), cancellationToken);

            private static async Task<bool> IsHealthyAsync(TimeSpan timeout, CancellationToken cancellationToken)
            {
                using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                cts.CancelAfter(timeout);
                using var response = await {|TB0001:Probe.GetAsync("http://localhost/health", cts.Token)|};
                return response.IsSuccessStatusCode;
            }
        }
        """);

    [Fact]
    public Task Several_callers_a_public_method_or_a_method_group_give_no_value() => Verify<NestedTimeoutAnalyzer>.AnalyzerAsync("""
        using System;
        using System.Net.Http;
        using System.Threading;
        using System.Threading.Tasks;

        public sealed class ServerManager
        {
            private static readonly HttpClient Probe = new() { Timeout = TimeSpan.FromMinutes(5) };

            public Task<bool> QuickAsync() => IsHealthyAsync(TimeSpan.FromSeconds(2));

            public Task<bool> SlowAsync() => IsHealthyAsync(TimeSpan.FromMinutes(10));

            public Func<TimeSpan, Task<bool>> AsDelegate() => OtherAsync;

            private static async Task<bool> IsHealthyAsync(TimeSpan timeout)
            {
                using var cts = new CancellationTokenSource(timeout);
                using var response = await Probe.GetAsync("http://localhost/health", cts.Token);
                return response.IsSuccessStatusCode;
            }

            private static async Task<bool> OtherAsync(TimeSpan timeout)
            {
                using var cts = new CancellationTokenSource(timeout);
                using var response = await Probe.GetAsync("http://localhost/other", cts.Token);
                return response.IsSuccessStatusCode;
            }

            public static async Task<bool> PublicAsync(TimeSpan timeout)
            {
                using var cts = new CancellationTokenSource(timeout);
                using var response = await Probe.GetAsync("http://localhost/public", cts.Token);
                return response.IsSuccessStatusCode;
            }
        }
        """);
}
