using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Timeouts;
using Microsoft.Extensions.DependencyInjection;

namespace TimeoutBudget.Http.Tests.Integration;

/// <summary>Real Kestrel servers and sockets on loopback: hostile headers, the request-timeouts middleware, seeds 002 and 003.</summary>
[Collection(WallClockCollection.Name)]
public sealed class EdgeIntegrationTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);

    private static async Task<HttpResponseMessage> GetAsync(Uri address, string path, params (string Name, string Value)[] headers)
    {
        using var client = new HttpClient { BaseAddress = address, Timeout = Bound };
        using var request = new HttpRequestMessage(HttpMethod.Get, path);
        foreach (var (name, value) in headers)
        {
            request.Headers.TryAddWithoutValidation(name, value);
        }

        var response = await client.SendAsync(request).WaitAsync(Bound);
        await response.Content.LoadIntoBufferAsync().WaitAsync(Bound);
        return response;
    }

    [Fact]
    public async Task Hostile_headers_never_lengthen_the_budget_throw_or_hang()
    {
        var handled = 0;
        await using var edge = await LoopbackService.StartAsync(null, (app, _) =>
        {
            app.UseTimeoutBudget("edge", TimeSpan.FromSeconds(2));
            app.MapGet("/allotted", () =>
            {
                Interlocked.Increment(ref handled);
                return Budget.Current!.Allotted.TotalMilliseconds.ToString(CultureInfo.InvariantCulture);
            });
        });

        async Task<string> Allotted(params (string, string)[] headers)
        {
            using var response = await GetAsync(edge.Address, "allotted", headers);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            return await response.Content.ReadAsStringAsync();
        }

        // Huge, malformed or absent: our own maximum.
        Assert.Equal("2000", await Allotted());
        Assert.Equal("2000", await Allotted((BudgetHeaders.EnvoyExpectedTimeout, "99999999999999999999999999999")));
        Assert.Equal("2000", await Allotted((BudgetHeaders.GrpcTimeout, "99999999H")));
        Assert.Equal("2000", await Allotted((BudgetHeaders.GrpcTimeout, "123456789m")));
        Assert.Equal("2000", await Allotted((BudgetHeaders.GrpcTimeout, "+1S")));
        Assert.Equal("2000", await Allotted((BudgetHeaders.GrpcTimeout, "1 S")));
        Assert.Equal("2000", await Allotted((BudgetHeaders.Remaining, "1e3")));
        // Shorter: honoured; repeated or several: the shortest.
        Assert.Equal("750", await Allotted((BudgetHeaders.GrpcTimeout, "750m")));
        Assert.Equal("400", await Allotted((BudgetHeaders.Remaining, "900"), (BudgetHeaders.Remaining, "400")));
        Assert.Equal("300", await Allotted((BudgetHeaders.Remaining, "900, 300, junk")));
        Assert.Equal("600", await Allotted((BudgetHeaders.GrpcTimeout, "600m"), (BudgetHeaders.EnvoyExpectedTimeout, "1500")));
        Assert.Equal(11, handled);

        // Zero or negative: rejected with a 504 before the handler runs.
        foreach (var header in new[] { (BudgetHeaders.Remaining, "0"), (BudgetHeaders.Remaining, "-30000"), (BudgetHeaders.EnvoyExpectedTimeout, "0"), (BudgetHeaders.GrpcTimeout, "0n") })
        {
            using var response = await GetAsync(edge.Address, "allotted", header);
            Assert.Equal(HttpStatusCode.GatewayTimeout, response.StatusCode);
            Assert.Equal("edge", Assert.Single(response.Headers.GetValues(BudgetHeaders.Expired)));
        }

        Assert.Equal(11, handled);
    }

    [Fact]
    public async Task Alongside_request_timeouts_the_shorter_of_the_two_answers()
    {
        static Task<LoopbackService> Start(TimeSpan requestTimeout, TimeSpan budget) => LoopbackService.StartAsync(
            services => services.AddRequestTimeouts(o => o.DefaultPolicy = new RequestTimeoutPolicy { Timeout = requestTimeout }),
            (app, _) =>
            {
                app.UseRouting();
                app.UseRequestTimeouts();
                app.UseTimeoutBudget("api", budget);
                app.MapGet("/slow", async (HttpContext context) =>
                {
                    await Task.Delay(TimeSpan.FromSeconds(10), context.RequestAborted);
                    return "done";
                });
            });

        await using (var theirsShorter = await Start(TimeSpan.FromMilliseconds(300), TimeSpan.FromSeconds(10)))
        {
            using var response = await GetAsync(theirsShorter.Address, "slow");
            Assert.Equal(HttpStatusCode.GatewayTimeout, response.StatusCode);
            // Their timeout, their response: ours does not claim a timeout that was not ours.
            Assert.False(response.Headers.Contains(BudgetHeaders.Expired));
        }

        await using (var oursShorter = await Start(TimeSpan.FromSeconds(10), TimeSpan.FromMilliseconds(300)))
        {
            using var response = await GetAsync(oursShorter.Address, "slow");
            Assert.Equal(HttpStatusCode.GatewayTimeout, response.StatusCode);
            Assert.Equal("api", Assert.Single(response.Headers.GetValues(BudgetHeaders.Expired)));
        }
    }

    /// <summary>
    /// Seed 002: API 20 s &lt; workflow 40 s &lt; worker 120 s = proxy 120 s, with "use the last good result" on timeout.
    /// Scaled to 1.2 s: the worker's own maximum equals the proxy's, but the proxy's budget travels with the request, so
    /// the worker gives up first and the proxy still has its reserve to serve the last good result.
    /// </summary>
    [Fact]
    public async Task Seed_002_the_worker_gives_up_inside_the_proxy_which_serves_the_last_good_result()
    {
        var maximum = TimeSpan.FromMilliseconds(1200);
        await using var worker = await LoopbackService.StartAsync(null, (app, _) =>
        {
            app.UseTimeoutBudget("worker", maximum);
            app.MapGet("/compute", async (HttpContext context) =>
            {
                await Task.Delay(TimeSpan.FromSeconds(10), context.RequestAborted);
                return "fresh";
            });
            app.MapGet("/ping", () => "pong");
        });

        await using var proxy = await LoopbackService.StartAsync(
            services => services.AddHttpClient("worker", c => c.BaseAddress = worker.Address).AddTimeoutBudget("transport"),
            (app, _) =>
            {
                app.UseTimeoutBudget(o =>
                {
                    o.Layer = "proxy";
                    o.Maximum = maximum;
                    // The margin covers the worker's 504 travelling back, so the proxy hears it before its transport gives up.
                    o.BudgetOptions = new BudgetOptions
                    {
                        Reserve = TimeSpan.FromMilliseconds(300),
                        Margin = BudgetMargin.Fraction(0.05, TimeSpan.FromMilliseconds(150)),
                    };
                });
                app.MapGet("/warm", async (HttpContext context, IHttpClientFactory clients) =>
                    await clients.CreateClient("worker").GetStringAsync("ping", context.RequestAborted));
                app.MapGet("/result", async (HttpContext context, IHttpClientFactory clients) =>
                {
                    try
                    {
                        return Results.Text(await clients.CreateClient("worker").GetStringAsync("compute", context.RequestAborted));
                    }
                    catch (BudgetExhaustedException expired)
                    {
                        var budget = Budget.Current!;
                        context.Response.Headers["x-stale-because"] = expired.Path;
                        context.Response.Headers["x-proxy-remaining-ms"] = BudgetHeaders.FormatMilliseconds(budget.Remaining);
                        return Results.Text("last good result");
                    }
                });
            });

        // A pooled, warm connection from the proxy to the worker, as between long-running services. Best effort: on a
        // loaded machine the very first exchange may itself run out of the proxy's 1.2 s, which is not what is tested here.
        for (var attempt = 0; attempt < 2; attempt++)
        {
            using var warm = await GetAsync(proxy.Address, "warm");
            if (warm.IsSuccessStatusCode)
            {
                break;
            }
        }

        using var response = await GetAsync(proxy.Address, "result");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("last good result", await response.Content.ReadAsStringAsync());
        Assert.Equal("proxy/transport/worker", Assert.Single(response.Headers.GetValues("x-stale-because")));
        // The fallback ran with the proxy's reserve still in hand, not after the proxy itself timed out.
        var left = int.Parse(Assert.Single(response.Headers.GetValues("x-proxy-remaining-ms")), CultureInfo.InvariantCulture);
        Assert.True(left > 0, "The proxy had run out before its fallback ran.");
    }

    /// <summary>
    /// Seed 003: a fetch with no socket timeout at all against a server that accepts and never answers. With the
    /// budget handler on the factory client, the fetch ends at the run's deadline with the layer named; nothing stays
    /// "running".
    /// </summary>
    [Fact]
    public async Task Seed_003_a_fetch_with_no_timeout_against_a_silent_server_ends_at_the_runs_deadline()
    {
        using var silent = new TcpListener(IPAddress.Loopback, 0);
        silent.Start();
        var accepted = new System.Collections.Concurrent.ConcurrentQueue<Socket>();
        using var stop = new CancellationTokenSource();
        var accepting = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                accepted.Enqueue(await silent.AcceptSocketAsync(stop.Token));
            }
        });

        var services = new ServiceCollection();
        services.AddHttpClient("fetch", c =>
        {
            c.BaseAddress = new Uri($"http://127.0.0.1:{((IPEndPoint)silent.LocalEndpoint).Port}/");
            c.Timeout = Timeout.InfiniteTimeSpan; // the incident: no socket timeout at all
        }).AddTimeoutBudget("fetch");
        await using var provider = services.BuildServiceProvider();
        var clients = provider.GetRequiredService<IHttpClientFactory>();

        // The run keeps 200 ms back from the fetch, so the fetch's own expiry surfaces before the run's.
        using var run = Budget.Start("run", TimeSpan.FromSeconds(1), new BudgetOptions { Margin = BudgetMargin.Fraction(0.05, TimeSpan.FromMilliseconds(200)) });
        var result = await run.TryRunAsync(token => clients.CreateClient("fetch").GetStringAsync("feed", token)).WaitAsync(Bound);

        Assert.Equal(BudgetOutcome.Expired, result.Outcome);
        Assert.Equal("run/fetch", result.ExpiredLayer);
        Assert.NotEmpty(accepted);

        await stop.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => accepting.WaitAsync(Bound));
        foreach (var socket in accepted)
        {
            socket.Dispose();
        }
    }
}
