using Verifier = TimeoutBudget.Analyzers.Tests.Verify<TimeoutBudget.Analyzers.BudgetMisuseAnalyzer>;

namespace TimeoutBudget.Analyzers.Tests;

public class BudgetMisuseTests
{
    [Fact]
    public Task A_reserve_not_shorter_than_the_timeout_is_probably_swapped() => Verifier.AnalyzerAsync("""
        using System;
        using TimeoutBudget;

        class Job
        {
            public void Run()
            {
                using var root = Budget.Start("job", TimeSpan.FromSeconds(60));
                using var swapped = root.Child("db", TimeSpan.FromSeconds(1), {|TB0006:TimeSpan.FromSeconds(10)|});
                using var right = root.Child("cache", TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(1));
                using var none = root.Child("queue", TimeSpan.FromSeconds(5), TimeSpan.Zero);
            }
        }
        """);

    [Fact]
    public Task Constant_child_that_cannot_fit_its_constant_parent() => Verifier.AnalyzerAsync("""
        using System;
        using TimeoutBudget;

        class Job
        {
            public void Run()
            {
                using var run = Budget.Start("run", TimeSpan.FromSeconds(30));
                using var step = run.Child("step", {|TB0006:TimeSpan.FromSeconds(45)|});
            }
        }
        """);

    [Fact]
    public Task Cancellable_call_in_a_budget_scope_without_the_budget_token() => Verifier.AnalyzerAsync("""
        using System;
        using System.Net.Http;
        using System.Threading.Tasks;
        using TimeoutBudget;

        class Job
        {
            public async Task RunAsync(HttpClient client, string url)
            {
                using var run = Budget.Start("run", TimeSpan.FromSeconds(30));
                await client.GetStringAsync(url, run.Token);
                await {|TB0006:client.GetStringAsync(url)|};
            }
        }
        """);

    [Fact]
    public Task Fitting_children_unknown_values_and_calls_outside_the_scope_are_clean() => Verifier.AnalyzerAsync("""
        using System;
        using System.Net.Http;
        using System.Threading.Tasks;
        using TimeoutBudget;

        class Job
        {
            public async Task RunAsync(HttpClient client, string url, TimeSpan configured)
            {
                await client.GetStringAsync(url);
                using var run = Budget.Start("run", TimeSpan.FromSeconds(30));
                using var fits = run.Child("fits", TimeSpan.FromSeconds(20));
                using var unknown = run.Child("unknown", configured);
                await client.GetStringAsync(url, fits.Token);
            }
        }
        """);

    [Fact]
    public Task Budget_Start_inside_an_open_budget_is_a_separate_root_where_a_nested_layer_was_meant() => Verifier.AnalyzerAsync("""
        using System;
        using System.Net.Http;
        using System.Threading.Tasks;
        using TimeoutBudget;

        class Orders
        {
            public async Task HandleAsync(HttpClient http, string url)
            {
                using var orders = Budget.FromRemaining("orders", TimeSpan.FromSeconds(3), TimeSpan.FromSeconds(10));
                using var request = {|TB0006:Budget.Start("request", TimeSpan.FromSeconds(10))|};
                await http.GetStringAsync(url, request.Token);
            }

            public void Nested()
            {
                using (Budget.Start("outer", TimeSpan.FromSeconds(30)))
                {
                    using var inner = {|TB0006:Budget.Start("inner", TimeSpan.FromSeconds(5))|};
                }
            }

            public async Task InAnyLambdaOfTheScopeAsync(Func<Func<Task>, Task> execute)
            {
                using var run = Budget.Start("run", TimeSpan.FromSeconds(30));
                await execute(async () =>
                {
                    using var attempt = {|TB0006:Budget.Start("attempt", TimeSpan.FromSeconds(5))|};
                    await Task.Yield();
                });
            }
        }
        """);

    [Fact]
    public Task Budget_Start_outside_any_open_budget_after_a_detached_child_or_as_Enter_and_Child_is_clean() => Verifier.AnalyzerAsync("""
        using System;
        using TimeoutBudget;

        class Jobs
        {
            public void Sequential()
            {
                using (Budget.Start("first", TimeSpan.FromSeconds(30)))
                {
                }

                using var second = Budget.Start("second", TimeSpan.FromSeconds(30));
                using var nested = Budget.Enter("nested", TimeSpan.FromSeconds(5));
                using var child = second.Child("child", TimeSpan.FromSeconds(5));
            }

            public void Detached(Budget parent)
            {
                using var call = parent.DetachedChild("call", TimeSpan.FromSeconds(5));
                using var own = Budget.Start("own", TimeSpan.FromSeconds(5));
            }

            public void BeforeTheBudget()
            {
                using var early = Budget.Start("early", TimeSpan.FromSeconds(5));
            }
        }
        """);
}
