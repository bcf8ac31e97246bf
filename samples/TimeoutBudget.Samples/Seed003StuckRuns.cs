using System.Net;
using System.Net.Sockets;

namespace TimeoutBudget.Samples;

/// <summary>
/// Seed 003: a scheduled run fetches from an API with no socket timeout and no run-level timeout; when the network
/// stalls, runs stay "running" forever and nothing reaps them. The stalled API here is a real socket on 127.0.0.1 that
/// accepts and never answers. Scaled 1 min → 10 ms.
/// </summary>
internal sealed class Seed003StuckRuns : ISample
{
    private const int Runs = 3;
    private static readonly TimeSpan RunTimeout = TimeSpan.FromMilliseconds(300);
    private static readonly TimeSpan FetchTimeout = TimeSpan.FromMilliseconds(50);
    private static readonly TimeSpan ObserveAfter = TimeSpan.FromMilliseconds(600);

    public string Id => "003";

    public string Title => "scheduled runs whose fetch has no socket timeout";

    public async Task<IReadOnlyList<SampleRow>> RunAsync()
    {
        using var stalled = new StalledServer();
        var before = await AsDeployedAsync(stalled.Url);
        var after = await WithBudgetsAsync(stalled.Url);
        Console.WriteLine($"   before, after {ObserveAfter.TotalMilliseconds:0} ms: {string.Join(", ", before)}");
        Console.WriteLine($"   after,  after {ObserveAfter.TotalMilliseconds:0} ms: {string.Join(", ", after)}");
        var stuckBefore = before.Count(s => s == "running");
        var stuckAfter = after.Count(s => s == "running");
        return
        [
            new("003", $"runs still \"running\" (of {Runs})", stuckBefore.ToString(), stuckAfter.ToString(), stuckAfter < stuckBefore),
            new("003", "runs whose status names the layer", before.Count(s => s.Contains('/')).ToString(), after.Count(s => s.Contains('/')).ToString(),
                after.Count(s => s.Contains('/')) > before.Count(s => s.Contains('/'))),
        ];
    }

    private static async Task<string[]> AsDeployedAsync(Uri url)
    {
        var statuses = Enumerable.Repeat("running", Runs).ToArray();
        using var http = new HttpClient { Timeout = Timeout.InfiniteTimeSpan };
        var runs = Enumerable.Range(0, Runs).Select(async i =>
        {
            try
            {
                await http.GetStringAsync(url);
                statuses[i] = "completed";
            }
            catch (Exception) when (!http.Equals(null))
            {
                // The real code caught everything and logged it; the status was never updated.
            }
        }).ToArray();

        await Task.Delay(ObserveAfter);
        var observed = (string[])statuses.Clone();
        http.CancelPendingRequests();
        await Task.WhenAll(runs).WaitAsync(TimeSpan.FromSeconds(10));
        return observed;
    }

    private static async Task<string[]> WithBudgetsAsync(Uri url)
    {
        var statuses = Enumerable.Repeat("running", Runs).ToArray();
        using var monitor = new BudgetMonitor();
        var options = new BudgetOptions { Monitor = monitor };

        // The reaper: any run past its deadline whose work has not ended is marked timed out.
        using var reaper = monitor.StartSweeping(TimeSpan.FromMilliseconds(20), work => statuses[(int)work.Tag!] = $"timeout (reaped: {work.Path})");

        using var http = new HttpClient { Timeout = Timeout.InfiniteTimeSpan };
        var release = new ManualResetEventSlim();
        var runs = Enumerable.Range(0, Runs).Select(i => Task.Run(async () =>
        {
            using var run = Budget.Start("integrity-run", RunTimeout, options);
            run.Tag = i;
            if (i == Runs - 1)
            {
                // One run calls a blocking library that ignores every token: only the reaper can notice it.
#pragma warning disable TB0006 // deliberate: the run that ignores its budget, for the reaper to find
                release.Wait(TimeSpan.FromSeconds(10));
#pragma warning restore TB0006
                return;
            }

            using var fetch = run.Child("airtable-fetch", FetchTimeout);
            var result = await fetch.TryRunAsync(token => http.GetStringAsync(url, token));
            statuses[i] = result.Outcome switch
            {
                BudgetOutcome.Completed => "completed",
                BudgetOutcome.Expired => $"timeout ({result.ExpiredLayer})",
                _ => $"failed ({result.Exception?.GetType().Name})",
            };
        })).ToArray();

        await Task.Delay(ObserveAfter);
        var observed = (string[])statuses.Clone();
        release.Set();
        await Task.WhenAll(runs).WaitAsync(TimeSpan.FromSeconds(10));
        return observed;
    }

    /// <summary>Accepts connections on 127.0.0.1 and never answers, like an API behind a network that went to sleep.</summary>
    private sealed class StalledServer : IDisposable
    {
        private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
        private readonly List<TcpClient> _held = [];
        private readonly CancellationTokenSource _stop = new();

        public StalledServer()
        {
            _listener.Start();
            Url = new Uri($"http://127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}/v0/records");
            _ = AcceptAsync();
        }

        public Uri Url { get; }

        public void Dispose()
        {
            _stop.Cancel();
            _listener.Stop();
            lock (_held)
            {
                _held.ForEach(c => c.Dispose());
            }
        }

        private async Task AcceptAsync()
        {
            try
            {
                while (!_stop.IsCancellationRequested)
                {
                    var client = await _listener.AcceptTcpClientAsync(_stop.Token);
                    lock (_held)
                    {
                        _held.Add(client);
                    }
                }
            }
            catch (Exception) when (_stop.IsCancellationRequested)
            {
                // Stopped.
            }
        }
    }
}
