using TimeoutBudget.CodeFixes;

namespace TimeoutBudget.Analyzers.Tests;

public class CodeFixTests
{
    [Fact]
    public Task TB0001_shrinks_the_inner_constant_to_outer_minus_margin() => Verify<NestedTimeoutAnalyzer>.CodeFixAsync<ShrinkInnerTimeoutCodeFix>("""
        using System;
        using System.Threading;

        class Worker
        {
            public void Run()
            {
                using var run = new CancellationTokenSource(TimeSpan.FromSeconds(600));
                using var step = CancellationTokenSource.CreateLinkedTokenSource(run.Token);
                step.CancelAfter({|TB0001:TimeSpan.FromMinutes(10)|});
            }
        }
        """, """
        using System;
        using System.Threading;

        class Worker
        {
            public void Run()
            {
                using var run = new CancellationTokenSource(TimeSpan.FromSeconds(600));
                using var step = CancellationTokenSource.CreateLinkedTokenSource(run.Token);
                step.CancelAfter(TimeSpan.FromSeconds(570));
            }
        }
        """);

    [Fact]
    public Task TB0001_reported_at_the_call_rewrites_the_inner_value_where_it_is_written() => Verify<NestedTimeoutAnalyzer>.CodeFixAsync<ShrinkInnerTimeoutCodeFix>("""
        using System;
        using System.Net.Http;
        using System.Threading;
        using System.Threading.Tasks;

        class Fetcher
        {
            public async Task<string> FetchAsync(string url)
            {
                var client = new HttpClient { Timeout = TimeSpan.FromMinutes(2) };
                using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
                return await {|TB0001:client.GetStringAsync(url, cts.Token)|};
            }
        }
        """, """
        using System;
        using System.Net.Http;
        using System.Threading;
        using System.Threading.Tasks;

        class Fetcher
        {
            public async Task<string> FetchAsync(string url)
            {
                var client = new HttpClient { Timeout = TimeSpan.FromSeconds(28) };
                using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
                return await client.GetStringAsync(url, cts.Token);
            }
        }
        """);

    [Fact]
    public Task TB0001_fix_all_rewrites_every_inline_inner_value_and_keeps_milliseconds() => Verify<NestedTimeoutAnalyzer>.CodeFixAsync<ShrinkInnerTimeoutCodeFix>("""
        using System;
        using System.Threading;

        class Worker
        {
            public void Run()
            {
                using var run = new CancellationTokenSource(TimeSpan.FromSeconds(10));
                using var first = CancellationTokenSource.CreateLinkedTokenSource(run.Token);
                first.CancelAfter({|TB0001:20_000|});
                using var second = CancellationTokenSource.CreateLinkedTokenSource(run.Token);
                second.CancelAfter({|TB0001:new TimeSpan(0, 0, 10)|});
            }
        }
        """, """
        using System;
        using System.Threading;

        class Worker
        {
            public void Run()
            {
                using var run = new CancellationTokenSource(TimeSpan.FromSeconds(10));
                using var first = CancellationTokenSource.CreateLinkedTokenSource(run.Token);
                first.CancelAfter(9500);
                using var second = CancellationTokenSource.CreateLinkedTokenSource(run.Token);
                second.CancelAfter(TimeSpan.FromMilliseconds(9500));
            }
        }
        """);

    [Fact]
    public Task TB0004_passes_a_token_cancelled_with_the_wait() => Verify<AbandonedWorkAnalyzer>.CodeFixAsync<PassTimeoutTokenCodeFix>("""
        using System;
        using System.Net.Http;
        using System.Threading;
        using System.Threading.Tasks;

        class Fetcher
        {
            public async Task<string> FetchAsync(HttpClient client, string url)
            {
                return await {|TB0004:client.GetStringAsync(url)|}.WaitAsync(TimeSpan.FromSeconds(5));
            }
        }
        """, """
        using System;
        using System.Net.Http;
        using System.Threading;
        using System.Threading.Tasks;

        class Fetcher
        {
            public async Task<string> FetchAsync(HttpClient client, string url)
            {
                using var timeoutSource = new CancellationTokenSource(TimeSpan.FromSeconds(5));
                return await client.GetStringAsync(url, timeoutSource.Token).WaitAsync(TimeSpan.FromSeconds(5));
            }
        }
        """);

    [Fact]
    public Task TB0005_replaces_a_None_token_with_a_bounded_one() => Verify<UnboundedOperationAnalyzer>.CodeFixAsync<PassTimeoutTokenCodeFix>("""
        using System.Net.Http;
        using System.Threading;
        using System.Threading.Tasks;

        class Fetcher
        {
            public async Task<string> FetchAsync(string url)
            {
                var client = new HttpClient { Timeout = Timeout.InfiniteTimeSpan };
                return await {|TB0005:client.GetStringAsync(url, CancellationToken.None)|};
            }
        }
        """, """
        using System;
        using System.Net.Http;
        using System.Threading;
        using System.Threading.Tasks;

        class Fetcher
        {
            public async Task<string> FetchAsync(string url)
            {
                var client = new HttpClient { Timeout = Timeout.InfiniteTimeSpan };
                using var timeoutSource = new CancellationTokenSource(TimeSpan.FromSeconds(100));
                return await client.GetStringAsync(url, timeoutSource.Token);
            }
        }
        """);

    [Fact]
    public Task TB0006_passes_the_budget_token_in_scope() => Verify<BudgetMisuseAnalyzer>.CodeFixAsync<PassTimeoutTokenCodeFix>("""
        using System;
        using System.Diagnostics;
        using System.Threading.Tasks;
        using TimeoutBudget;

        class Job
        {
            public async Task RunAsync(Process process)
            {
                using var run = Budget.Start("run", TimeSpan.FromSeconds(30));
                await {|TB0006:process.WaitForExitAsync()|};
            }
        }
        """, """
        using System;
        using System.Diagnostics;
        using System.Threading.Tasks;
        using TimeoutBudget;

        class Job
        {
            public async Task RunAsync(Process process)
            {
                using var run = Budget.Start("run", TimeSpan.FromSeconds(30));
                await process.WaitForExitAsync(cancellationToken: run.Token);
            }
        }
        """);
}

public class FixAllTests
{
    [Fact]
    public Task TB0004_fix_all_gives_each_wait_its_own_source() => Verify<AbandonedWorkAnalyzer>.CodeFixAsync<PassTimeoutTokenCodeFix>("""
        using System;
        using System.Net.Http;
        using System.Threading.Tasks;

        class Fetcher
        {
            public async Task<string> FirstAsync(HttpClient client, string url)
            {
                return await {|TB0004:client.GetStringAsync(url)|}.WaitAsync(TimeSpan.FromSeconds(5));
            }

            public async Task<byte[]> SecondAsync(HttpClient client, string url)
            {
                return await {|TB0004:client.GetByteArrayAsync(url)|}.WaitAsync(TimeSpan.FromSeconds(7));
            }
        }
        """, """
        using System;
        using System.Net.Http;
        using System.Threading;
        using System.Threading.Tasks;

        class Fetcher
        {
            public async Task<string> FirstAsync(HttpClient client, string url)
            {
                using var timeoutSource = new CancellationTokenSource(TimeSpan.FromSeconds(5));
                return await client.GetStringAsync(url, timeoutSource.Token).WaitAsync(TimeSpan.FromSeconds(5));
            }

            public async Task<byte[]> SecondAsync(HttpClient client, string url)
            {
                using var timeoutSource = new CancellationTokenSource(TimeSpan.FromSeconds(7));
                return await client.GetByteArrayAsync(url, timeoutSource.Token).WaitAsync(TimeSpan.FromSeconds(7));
            }
        }
        """);

    [Fact]
    public Task TB0004_fix_all_in_one_block_declares_two_sources() => Verify<AbandonedWorkAnalyzer>.CodeFixAsync<PassTimeoutTokenCodeFix>("""
        using System;
        using System.Net.Http;
        using System.Threading.Tasks;

        class Fetcher
        {
            public async Task<int> BothAsync(HttpClient client, string url)
            {
                var text = await {|TB0004:client.GetStringAsync(url)|}.WaitAsync(TimeSpan.FromSeconds(5));
                var bytes = await {|TB0004:client.GetByteArrayAsync(url)|}.WaitAsync(TimeSpan.FromSeconds(7));
                return text.Length + bytes.Length;
            }
        }
        """, """
        using System;
        using System.Net.Http;
        using System.Threading;
        using System.Threading.Tasks;

        class Fetcher
        {
            public async Task<int> BothAsync(HttpClient client, string url)
            {
                using var timeoutSource = new CancellationTokenSource(TimeSpan.FromSeconds(5));
                var text = await client.GetStringAsync(url, timeoutSource.Token).WaitAsync(TimeSpan.FromSeconds(5));
                using var timeoutSource2 = new CancellationTokenSource(TimeSpan.FromSeconds(7));
                var bytes = await client.GetByteArrayAsync(url, timeoutSource2.Token).WaitAsync(TimeSpan.FromSeconds(7));
                return text.Length + bytes.Length;
            }
        }
        """);

    [Fact]
    public Task TB0004_reported_at_the_wait_fixes_the_call_that_started_the_work() => Verify<AbandonedWorkAnalyzer>.CodeFixAsync<PassTimeoutTokenCodeFix>("""
        using System;
        using System.Net.Http;
        using System.Threading.Tasks;

        class Fetcher
        {
            public async Task FetchAsync(HttpClient client, string url)
            {
                var work = client.GetStringAsync(url);
                await Task.WhenAny({|TB0004:work|}, Task.Delay(TimeSpan.FromSeconds(5)));
            }
        }
        """, """
        using System;
        using System.Net.Http;
        using System.Threading;
        using System.Threading.Tasks;

        class Fetcher
        {
            public async Task FetchAsync(HttpClient client, string url)
            {
                using var timeoutSource = new CancellationTokenSource(TimeSpan.FromSeconds(5));
                var work = client.GetStringAsync(url, timeoutSource.Token);
                await Task.WhenAny(work, Task.Delay(TimeSpan.FromSeconds(5)));
            }
        }
        """);
}
