using Verifier = TimeoutBudget.Analyzers.Tests.Verify<TimeoutBudget.Analyzers.AbandonedWorkAnalyzer>;

namespace TimeoutBudget.Analyzers.Tests;

/// <summary>
/// TB0004 on the shapes real services write (see docs/analyzer-quality.md): "can this work observe the wait's timeout?" asked of
/// helpers without a token, tasks stored in fields, delays held in locals, token-cancelled infinite delays, and answered "yes"
/// when the work is awaited again on the path where the wait gave up.
/// </summary>
public class AbandonedWorkShapesTests
{
    [Fact]
    public Task Sync_wrapper_over_a_helper_that_takes_no_token() => Verifier.AnalyzerAsync("""
        using System.Threading.Tasks;

        class Server
        {
            public void Promote(string node) => {|TB0004:PromoteAsync(node, log: null)|}.Wait(60000);

            private async Task PromoteAsync(string node, System.IO.TextWriter? log) => await Task.Yield();
        }
        """);

    [Fact]
    public Task WaitAsync_with_a_settable_timeout_property_over_a_call_that_takes_no_token() => MultiFile.AnalyzerAsync<AbandonedWorkAnalyzer>("""
        using System;
        using System.Threading;
        using System.Threading.Tasks;

        interface IAccountShim { Task ReadAccountAsync(); }

        class HealthCheck
        {
            private readonly IAccountShim _shim;
            public HealthCheck(IAccountShim shim) => _shim = shim;

            // Infinite until the registration code sets it.
            public TimeSpan Timeout { get; set; } = System.Threading.Timeout.InfiniteTimeSpan;

            public async Task CheckAsync(CancellationToken cancellationToken)
            {
                Task task = _shim.ReadAccountAsync();
                await {|TB0004:task|}.WaitAsync(Timeout, cancellationToken);
            }
        }
        """, """
        using System;

        static class Registration
        {
            public static HealthCheck Create(IAccountShim shim) => new HealthCheck(shim) { Timeout = TimeSpan.FromSeconds(5) };
        }
        """);

    [Fact]
    public Task Dispose_waits_on_a_field_task_running_blocking_code() => Verifier.AnalyzerAsync("""
        using System;
        using System.Collections.Concurrent;
        using System.Threading.Tasks;

        sealed class QueueWriter : IDisposable
        {
            private readonly BlockingCollection<string> _queue = new();
            private readonly Task _outputTask;

            public QueueWriter() => _outputTask = Task.Factory.StartNew(Drain, this, TaskCreationOptions.LongRunning);

            private static void Drain(object? state)
            {
                foreach (var line in ((QueueWriter)state!)._queue.GetConsumingEnumerable()) Console.WriteLine(line);
            }

            public void Dispose()
            {
                _queue.CompleteAdding();
                {|TB0004:_outputTask|}.Wait(1500);
            }
        }
        """);

    [Fact]
    public Task Polling_local_function_raced_against_a_delay_held_in_a_local() => Verifier.AnalyzerAsync("""
        using System;
        using System.Threading;
        using System.Threading.Tasks;

        static class Waits
        {
            public static async Task WaitWhileAsync(Func<Task<bool>> probe, TimeSpan interval, TimeSpan timeout, CancellationToken ct = default)
            {
                async Task LoopAsync()
                {
                    while (!ct.IsCancellationRequested && await probe())
                    {
                        await Task.Delay(interval, ct);
                    }
                }

                var loop = LoopAsync();
                var timeoutTask = Task.Delay(timeout, ct);
                var timedOut = timeoutTask == await Task.WhenAny({|TB0004:loop|}, timeoutTask);
                if (timedOut)
                {
                    throw new TimeoutException();
                }

                await loop;
            }
        }
        """);

    [Fact]
    public Task Read_started_with_the_callers_token_raced_against_a_delay_and_left_behind_on_timeout() => Verifier.AnalyzerAsync("""
        using System;
        using System.Net.Http;
        using System.Threading;
        using System.Threading.Tasks;

        class FeedReader
        {
            private readonly HttpClient _client = new();
            public TimeSpan RequestTimeout { get; set; } = TimeSpan.FromSeconds(30);

            public async Task<string> ReadAsync(string url, CancellationToken cancellationToken)
            {
                var task = _client.GetStringAsync(url, cancellationToken);
                using (var cts = new CancellationTokenSource())
                {
                    if (!ReferenceEquals(await Task.WhenAny({|TB0004:task|}, Task.Delay(RequestTimeout, cts.Token)), task))
                    {
                        throw new TimeoutException("feed request timed out");
                    }

                    cts.Cancel();
                }

                return await task;
            }
        }
        """);

    [Fact]
    public Task Token_cancelled_infinite_delay_is_a_timed_wait() => Verifier.AnalyzerAsync("""
        using System;
        using System.Net.Http;
        using System.Threading;
        using System.Threading.Tasks;

        class Fetcher
        {
            public async Task FetchAsync(HttpClient client, string url)
            {
                using var cts = new CancellationTokenSource();
                cts.CancelAfter(TimeSpan.FromSeconds(10));
                var stopped = Task.Delay(Timeout.Infinite, cts.Token);
                await Task.WhenAny({|TB0004:client.GetStringAsync(url)|}, stopped);
                await Task.WhenAny(client.GetStringAsync(url, cts.Token), stopped);
            }
        }
        """);

    [Fact]
    public Task Work_awaited_again_where_the_wait_gave_up_is_not_abandoned() => Verifier.AnalyzerAsync("""
        using System;
        using System.Net.Http;
        using System.Threading;
        using System.Threading.Tasks;

        class Device
        {
            public async Task<string> ListAsync(HttpClient client, string url, CancellationToken cancellationToken)
            {
                var listing = client.GetStringAsync(url, cancellationToken);
                var hint = Task.Delay(TimeSpan.FromSeconds(7), cancellationToken);
                var finished = await Task.WhenAny(listing, hint);
                if (finished == hint)
                {
                    Console.WriteLine("Waiting for the device…");
                }

                return await listing;
            }

            public async Task StopAsync(Task running, CancellationTokenSource cts)
            {
                try
                {
                    await running.WaitAsync(TimeSpan.FromSeconds(5));
                }
                catch (TimeoutException)
                {
                    cts.Cancel();
                }

                await running;
            }
        }
        """);

    [Fact]
    public Task Work_that_observes_a_source_this_type_cancels_or_a_signal_is_not_abandoned() => Verifier.AnalyzerAsync("""
        using System;
        using System.Net.Http;
        using System.Threading;
        using System.Threading.Tasks;

        sealed class Loader : IDisposable
        {
            private readonly CancellationTokenSource _cts = new();
            private readonly Task _loading;
            private readonly TaskCompletionSource<bool> _ready = new();

            public Loader(HttpClient client) => _loading = client.GetStringAsync("http://config", _cts.Token);

            public bool WaitReady() => _ready.Task.Wait(TimeSpan.FromSeconds(1));

            public void Dispose()
            {
                _cts.Cancel();
                _loading.Wait(TimeSpan.FromSeconds(1));
            }
        }
        """);

    [Fact]
    public Task A_timed_wait_helper_in_another_file_is_the_wait_it_wraps() => MultiFile.AnalyzerAsync<AbandonedWorkAnalyzer>("""
        using System;
        using System.Net.Http;
        using System.Threading;
        using System.Threading.Tasks;

        class Reporter
        {
            private readonly TimeSpan _timeout = TimeSpan.FromSeconds(10);

            public async Task ReportAsync(HttpClient client, CancellationToken cancellationToken)
            {
                await {|TB0004:client.GetStringAsync("https://usage")|}.OrTimeout(_timeout);
                await {|TB0004:client.GetStringAsync("https://usage", cancellationToken)|}.OrTimeout(_timeout, cancellationToken);
                await Task.Delay(TimeSpan.FromMilliseconds(5)).OrTimeout(_timeout);
            }
        }
        """, """
        using System;
        using System.Threading;
        using System.Threading.Tasks;

        static class TaskExtensions
        {
            public static async Task OrTimeout(this Task task, TimeSpan timeout, CancellationToken cancellationToken = default)
            {
                var delay = Task.Delay(timeout, cancellationToken);
                if (await Task.WhenAny(task, delay) == delay)
                {
                    throw new TimeoutException();
                }

                await task;
            }
        }
        """);
}
