namespace TimeoutBudget.Analyzers.Tests;

/// <summary>Timeout values written where real services write them: constants classes, static readonly fields and options defaults in other files.</summary>
public class ValuesFromOtherFilesTests
{
    private const string Limits = """
        using System;

        public static class Limits
        {
            public const int UpdateCheckSeconds = 10;
            public const int HttpSeconds = 20;
            public static readonly TimeSpan ClientTimeout = TimeSpan.FromSeconds(HttpSeconds);
        }

        public sealed class EgressOptions
        {
            public TimeSpan RequestTimeout { get; set; } = TimeSpan.FromSeconds(10);
            public TimeSpan ConnectTimeout { get; set; } = TimeSpan.FromSeconds(5);
            public TimeSpan OverriddenTimeout { get; set; } = TimeSpan.FromSeconds(60);
        }

        public static class Setup
        {
            // Registration code changes this one, so its initializer is only a default.
            public static EgressOptions Configure() => new EgressOptions { OverriddenTimeout = TimeSpan.FromSeconds(1) };
        }
        """;

    [Fact]
    public Task Static_readonly_and_constants_from_another_file() => MultiFile.AnalyzerAsync<NestedTimeoutAnalyzer>("""
        using System;
        using System.Net.Http;
        using System.Threading;
        using System.Threading.Tasks;

        class UpdateChecker
        {
            private static readonly HttpClient Client = new();

            static UpdateChecker() => Client.Timeout = Limits.ClientTimeout;

            public async Task<string> CheckAsync(string url)
            {
                using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(Limits.UpdateCheckSeconds));
                using var response = await {|TB0001:Client.GetAsync(url, cts.Token)|};
                return await response.Content.ReadAsStringAsync(cts.Token);
            }
        }
        """, Limits);

    [Fact]
    public Task Options_defaults_count_unless_code_changes_them() => MultiFile.AnalyzerAsync<NestedTimeoutAnalyzer>("""
        using System;
        using System.Net.Http;
        using System.Threading;
        using System.Threading.Tasks;

        class Egress
        {
            private readonly HttpClient _client = new();
            private readonly HttpClient _other = new();
            private readonly EgressOptions _options;

            public Egress(EgressOptions options)
            {
                _options = options;
                _client.Timeout = options.RequestTimeout;
                _other.Timeout = options.OverriddenTimeout;
            }

            public async Task SendAsync(string url)
            {
                using var cts = new CancellationTokenSource(_options.RequestTimeout);
                await {|TB0001:_client.GetAsync(url, cts.Token)|};
                using var shortSource = new CancellationTokenSource(TimeSpan.FromSeconds(2));
                await _other.GetAsync(url, shortSource.Token);
            }
        }
        """, Limits);
}

/// <summary>
/// A wait through helpers in another file (<c>OrTimeout</c> handing the task and timeout to an internal helper that races a
/// delay the debugger can switch off) around a task started once into a field, whose method sets the same timeout on its client.
/// </summary>
public class WaitHelperLookThroughTests
{
    [Fact]
    public Task Client_timeout_equal_to_the_helper_wait_around_the_stored_task() => MultiFile.AnalyzerAsync<NestedTimeoutAnalyzer>("""
        using System;
        using System.Net.Http;
        using System.Threading;
        using System.Threading.Tasks;

        public sealed class UsageReporter
        {
            private readonly TimeSpan _httpClientTimeout = TimeSpan.FromSeconds(10);
            private readonly CancellationTokenSource _stopping = new();
            private Task? _reportTask;

            public void Start() => _reportTask ??= Task.Run(() => ReportAsync());

            public async Task StopAsync()
            {
                _stopping.Cancel();
                if (_reportTask != null)
                {
                    await {|TB0001:_reportTask.OrTimeout(_httpClientTimeout)|}.ConfigureAwait(false);
                }
            }

            private async Task ReportAsync()
            {
                await Task.Delay(TimeSpan.FromSeconds(30), _stopping.Token);
                var httpClient = new HttpClient();
                httpClient.Timeout = _httpClientTimeout;
                await httpClient.PostAsync("https://usage.example", new StringContent("{}"));
            }
        }
        """, """
        using System;
        using System.Diagnostics;
        using System.Threading;
        using System.Threading.Tasks;

        public static class TaskExtensions
        {
            public static Task OrTimeout(this Task task, TimeSpan timeout, CancellationToken cancellationToken = default) =>
                OrTimeoutInternal(task, timeout, cancellationToken);

            private static Task OrTimeoutInternal(Task task, TimeSpan timeout, CancellationToken cancellationToken)
            {
                async Task WaitAsync()
                {
                    using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                    var delayTask = Task.Delay(Debugger.IsAttached ? Timeout.InfiniteTimeSpan : timeout, cts.Token);
                    if (await Task.WhenAny(task, delayTask).ConfigureAwait(false) == delayTask)
                    {
                        throw new TimeoutException();
                    }

                    cts.Cancel();
                    await task;
                }

                return WaitAsync();
            }
        }
        """);
}
