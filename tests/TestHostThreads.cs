using System.Runtime.CompilerServices;

namespace TimeoutBudget.TestSupport;

/// <summary>
/// Gives the thread pool back the two threads the test host keeps for itself. VSTest's message loop (a blocking
/// <c>Socket.Poll</c>) and xUnit's assembly runner (a blocking wait) each hold a pool thread for the whole run; on a
/// 2-core machine the pool's minimum is 2, so every other work item — timer callbacks included — waited for the pool to
/// inject a thread, 0.5–1 s at a time, every time idle threads had retired. Measured with a pickup probe and
/// <c>dotnet-stack</c> (docs/reliability.md §2): a plain <c>Task.Delay</c> fired up to 680 ms late in those stalls, none
/// with this in place. A service does not run inside a test host, so this corrects the harness, not the library.
/// </summary>
internal static class TestHostThreads
{
    private const int HeldByTestHost = 2;

    [ModuleInitializer]
    internal static void ReserveThreadsForTheTestHost()
    {
        ThreadPool.GetMinThreads(out var workers, out var completionPorts);
        ThreadPool.SetMinThreads(workers + HeldByTestHost, completionPorts);
    }
}
