using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace TimeoutBudget.Http.Tests.Integration;

/// <summary>
/// Three real Kestrel services on loopback, A → B → slow C, each with the budget middleware and a budgeted
/// <c>IHttpClientFactory</c> client: the budget shrinks hop by hop, and the 504 names the layer where time ran out
/// (seed 001: several layers and a failure nobody could attribute).
/// </summary>
[Collection(WallClockCollection.Name)]
public sealed class HopByHopIntegrationTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan Announced = TimeSpan.FromSeconds(8);

    // A fixed margin per hop, wide enough that C's 504 still reaches B before B's transport gives up on a 2-core CI machine
    // that runs the other test assemblies beside this one (400 ms was not: the transport won once in CI).
    private static readonly TimeSpan HopMargin = TimeSpan.FromSeconds(1);
    private static readonly BudgetOptions Options = new() { Margin = BudgetMargin.Absolute(HopMargin) };

    /// <summary>What a service saw when its handler started: when, and how much its request budget had left.</summary>
    private sealed record Seen(long Timestamp, TimeSpan Remaining, string Path);

    private sealed class Chain : IAsyncDisposable
    {
        public ConcurrentDictionary<string, Seen> Seen { get; } = new();

        public ConcurrentQueue<(Exception Failure, TimeSpan RemainingInA)> FailuresInA { get; } = new();

        public List<LoopbackService> Services { get; } = [];

        public Uri EntryPoint => Services[^1].Address;

        public async ValueTask DisposeAsync()
        {
            foreach (var service in Services)
            {
                await service.DisposeAsync();
            }
        }
    }

    /// <param name="cCooperates">Whether C's slow work observes its budget's token (RequestAborted) or ignores it.</param>
    private static async Task<Chain> StartChainAsync(bool cCooperates)
    {
        var chain = new Chain();
        var c = await LoopbackService.StartAsync(null, (app, stopping) =>
        {
            app.UseTimeoutBudget(o => (o.Layer, o.Maximum, o.BudgetOptions) = ("service-c", TimeSpan.FromSeconds(30), Options));
            app.MapGet("/warm", () => "warm");
            app.MapGet("/work", async (HttpContext context) =>
            {
                Record(chain, "c");
                // The slow dependency: ten seconds, far beyond any budget here.
                await Task.Delay(TimeSpan.FromSeconds(10), cCooperates ? context.RequestAborted : stopping);
                return "c done";
            });
        });
        chain.Services.Add(c);
        chain.Services.Add(await StartForwarderAsync(chain, "service-b", "b", c.Address));
        chain.Services.Add(await StartForwarderAsync(chain, "service-a", "a", chain.Services[^1].Address));

        // Headers carry time left, not a clock time, so a cold connection or first-call JIT between two hops is time the
        // receiver cannot see. Pay those costs once, outside the measured call.
        using var warm = new HttpClient { BaseAddress = chain.EntryPoint, Timeout = Bound };
        (await warm.GetAsync("warm").WaitAsync(Bound)).EnsureSuccessStatusCode();
        return chain;
    }

    private static Task<LoopbackService> StartForwarderAsync(Chain chain, string layer, string key, Uri next) =>
        LoopbackService.StartAsync(
            services => services.AddHttpClient("next", client => client.BaseAddress = next).AddTimeoutBudget("transport"),
            (app, _) =>
            {
                app.UseTimeoutBudget(o => (o.Layer, o.Maximum, o.BudgetOptions) = (layer, TimeSpan.FromSeconds(30), Options));
                app.MapGet("/warm", (HttpContext context, IHttpClientFactory clients) =>
                    clients.CreateClient("next").GetStringAsync("warm", context.RequestAborted));
                app.MapGet("/work", async (HttpContext context, IHttpClientFactory clients) =>
                {
                    Record(chain, key);
                    try
                    {
                        return await clients.CreateClient("next").GetStringAsync("work", context.RequestAborted);
                    }
                    catch (Exception exception) when (key == "a")
                    {
                        chain.FailuresInA.Enqueue((exception, Budget.Current!.Remaining));
                        throw;
                    }
                });
            });

    private static void Record(Chain chain, string key)
    {
        var budget = Budget.Current!;
        chain.Seen[key] = new Seen(Stopwatch.GetTimestamp(), budget.Remaining, budget.Path);
    }

    private static async Task<(HttpResponseMessage Response, TimeSpan Took)> CallAsync(Uri entryPoint)
    {
        using var client = new HttpClient { BaseAddress = entryPoint, Timeout = Bound };
        using var request = new HttpRequestMessage(HttpMethod.Get, "work");
        request.Headers.Add(BudgetHeaders.Remaining, BudgetHeaders.FormatMilliseconds(Announced));
        var clock = Stopwatch.StartNew();
        var response = await client.SendAsync(request).WaitAsync(Bound);
        await response.Content.LoadIntoBufferAsync().WaitAsync(Bound);
        return (response, clock.Elapsed);
    }

    [Fact]
    public async Task The_budget_shrinks_hop_by_hop_and_the_504_names_the_slow_service()
    {
        await using var chain = await StartChainAsync(cCooperates: true);

        var (response, took) = await CallAsync(chain.EntryPoint);

        // The failure A reports names the layer where time ran out, with the route that led there.
        Assert.Equal(HttpStatusCode.GatewayTimeout, response.StatusCode);
        Assert.Equal("service-a/transport/service-b/transport/service-c", Assert.Single(response.Headers.GetValues(BudgetHeaders.Expired)));
        var (thrown, remainingInA) = Assert.Single(chain.FailuresInA);
        var failure = Assert.IsType<BudgetExhaustedException>(thrown);
        Assert.Equal("service-c", failure.Layer);
        Assert.Equal("service-a/transport/service-b/transport/service-c", failure.Path);

        // C gave up inside what it was told, so A learnt of it before its own deadline, not by timing out itself.
        Assert.True(remainingInA > TimeSpan.Zero, "A's own budget had run out when C's failure reached it.");
        Assert.True(took < Bound);

        // Each hop sees less than the one before, by at least the time that passed between them.
        var a = chain.Seen["a"];
        var b = chain.Seen["b"];
        var c = chain.Seen["c"];
        Assert.Equal(("service-a", "service-b", "service-c"), (a.Path, b.Path, c.Path));
        Assert.True(a.Remaining <= Announced);
        AssertShrinks(a, b);
        AssertShrinks(b, c);
        AssertShrinks(a, c);

        // …and not by much more: two hops, each keeping its transport's margin and the margin announced downstream.
        var lowest = a.Remaining - (4 * HopMargin) - Stopwatch.GetElapsedTime(a.Timestamp, c.Timestamp) - TimeSpan.FromMilliseconds(50);
        Assert.True(c.Remaining >= lowest, $"C saw {c.Remaining}; A had {a.Remaining}, so C should have had at least {lowest}.");
    }

    [Fact]
    public async Task When_the_slow_service_ignores_its_budget_the_waiting_transport_gives_up_and_is_named()
    {
        await using var chain = await StartChainAsync(cCooperates: false);

        var (response, took) = await CallAsync(chain.EntryPoint);

        Assert.Equal(HttpStatusCode.GatewayTimeout, response.StatusCode);
        Assert.Equal("service-a/transport/service-b/transport", Assert.Single(response.Headers.GetValues(BudgetHeaders.Expired)));
        var (thrown, remainingInA) = Assert.Single(chain.FailuresInA);
        var failure = Assert.IsType<BudgetExhaustedException>(thrown);
        Assert.Equal("service-a/transport/service-b/transport", failure.Path);
        Assert.True(remainingInA > TimeSpan.Zero, "A's own budget had run out when B's failure reached it.");
        Assert.True(took < Bound);
    }

    private static void AssertShrinks(Seen outer, Seen inner)
    {
        var between = Stopwatch.GetElapsedTime(outer.Timestamp, inner.Timestamp);
        Assert.True(inner.Remaining <= outer.Remaining - between,
            $"{inner.Path} saw {inner.Remaining} left, but {outer.Path} had {outer.Remaining} and {between} passed in between.");
    }
}
