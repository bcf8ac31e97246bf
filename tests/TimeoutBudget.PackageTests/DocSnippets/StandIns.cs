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
