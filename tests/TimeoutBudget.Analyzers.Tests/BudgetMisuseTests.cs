using Verifier = TimeoutBudget.Analyzers.Tests.Verify<TimeoutBudget.Analyzers.BudgetMisuseAnalyzer>;

namespace TimeoutBudget.Analyzers.Tests;

public class BudgetMisuseTests
{
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
}
