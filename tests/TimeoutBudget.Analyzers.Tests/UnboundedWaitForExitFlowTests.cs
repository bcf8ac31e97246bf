using Verifier = TimeoutBudget.Analyzers.Tests.Verify<TimeoutBudget.Analyzers.UnboundedOperationAnalyzer>;

namespace TimeoutBudget.Analyzers.Tests;

/// <summary>TB0005 follows flow: an unbounded <c>WaitForExit()</c> where a bounded wait already saw the process exit only drains its output.</summary>
public class UnboundedWaitForExitFlowTests
{
    [Fact]
    public Task After_a_bounded_wait_that_returned_true_the_drain_is_fine_but_on_the_timeout_path_it_hangs() => Verifier.AnalyzerAsync("""
        using System;
        using System.Diagnostics;

        static class Tool
        {
            public static void Run(Process process, int timeoutMs, int drainMs)
            {
                process.Start();
                if (!process.WaitForExit(timeoutMs))
                {
                    process.Kill(entireProcessTree: true);
                    {|TB0005:process.WaitForExit()|};
                    if (process.WaitForExit(drainMs))
                    {
                        process.WaitForExit();
                    }

                    throw new TimeoutException("tool timed out");
                }

                process.WaitForExit();
            }

            public static void Drain(Process process)
            {
                if (process.HasExited)
                {
                    process.WaitForExit();
                }

                if (!process.WaitForExit(TimeSpan.FromSeconds(5)))
                {
                    return;
                }
                else
                {
                    process.WaitForExit();
                }
            }

            public static void NotGuarded(Process process, int timeoutMs)
            {
                process.WaitForExit(timeoutMs);
                {|TB0005:process.WaitForExit()|};
            }
        }
        """);
}
