// Stand-ins for the reader's own code that the documented snippets call (README.md says which names are theirs):
// an SDK client, a store of runs and a cache. Only their shapes matter; nothing runs.
namespace DocSnippets;

public sealed record AgentRequest(string Prompt);

public sealed record AgentReply(string Text);

public interface IAgentClient
{
    Task<AgentReply> InvokeAgentAsync(AgentRequest request, CancellationToken cancellationToken);
}

public interface IRunStore
{
    void MarkTimedOut(string runId);

    void MarkTimedOut(string runId, string layerPath);
}

public interface IProfileCache
{
    ValueTask<string?> GetAsync(string key, CancellationToken cancellationToken);
}

// docs/rules/TB0008.md: an options class bound to configuration; its value lives in this folder's appsettings.json, which
// the package's build targets hand to the analyzer.
public sealed class WorkflowApiOptions
{
    public int TimeoutSeconds { get; set; } = 15;
}

public static class WorkflowApiRegistration
{
    public static IServiceCollection AddWorkflowApi(this IServiceCollection services, IConfiguration configuration) =>
        services.Configure<WorkflowApiOptions>(configuration.GetSection("WorkflowApi"));
}
