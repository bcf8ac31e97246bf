using Microsoft.CodeAnalysis;

namespace TimeoutBudget.Analyzers;

/// <summary>The types the rules understand, resolved once per compilation by metadata name.</summary>
internal sealed class KnownTypes
{
    private KnownTypes(Compilation compilation)
    {
        TimeSpan = compilation.GetTypeByMetadataName("System.TimeSpan");
        Timeout = compilation.GetTypeByMetadataName("System.Threading.Timeout");
        CancellationToken = compilation.GetTypeByMetadataName("System.Threading.CancellationToken");
        CancellationTokenSource = compilation.GetTypeByMetadataName("System.Threading.CancellationTokenSource");
        Task = compilation.GetTypeByMetadataName("System.Threading.Tasks.Task");
        HttpClient = compilation.GetTypeByMetadataName("System.Net.Http.HttpClient");
        Process = compilation.GetTypeByMetadataName("System.Diagnostics.Process");
        AwsClientConfig = compilation.GetTypeByMetadataName("Amazon.Runtime.ClientConfig");
        PollyTimeoutOptions = compilation.GetTypeByMetadataName("Polly.Timeout.TimeoutStrategyOptions");
        PollyRetryOptions = compilation.GetTypeByMetadataName("Polly.Retry.RetryStrategyOptions`1")
            ?? compilation.GetTypeByMetadataName("Polly.Retry.RetryStrategyOptions");
        PollyBuilderBase = compilation.GetTypeByMetadataName("Polly.ResiliencePipelineBuilderBase");
        HttpStandardResilienceOptions = compilation.GetTypeByMetadataName("Microsoft.Extensions.Http.Resilience.HttpStandardResilienceOptions");
        HttpStandardHedgingOptions = compilation.GetTypeByMetadataName("Microsoft.Extensions.Http.Resilience.HttpStandardHedgingResilienceOptions");
        Budget = compilation.GetTypeByMetadataName("TimeoutBudget.Budget");
    }

    public INamedTypeSymbol? TimeSpan { get; }

    public INamedTypeSymbol? Timeout { get; }

    public INamedTypeSymbol? CancellationToken { get; }

    public INamedTypeSymbol? CancellationTokenSource { get; }

    public INamedTypeSymbol? Task { get; }

    public INamedTypeSymbol? HttpClient { get; }

    public INamedTypeSymbol? Process { get; }

    public INamedTypeSymbol? AwsClientConfig { get; }

    public INamedTypeSymbol? PollyTimeoutOptions { get; }

    public INamedTypeSymbol? PollyRetryOptions { get; }

    public INamedTypeSymbol? PollyBuilderBase { get; }

    public INamedTypeSymbol? HttpStandardResilienceOptions { get; }

    public INamedTypeSymbol? HttpStandardHedgingOptions { get; }

    public INamedTypeSymbol? Budget { get; }

    /// <summary>Whether anything the rules look for can occur at all; without TimeSpan there is no timeout to compare.</summary>
    public bool AnyTimeoutSource =>
        TimeSpan is not null && CancellationToken is not null
        && (CancellationTokenSource is not null || Task is not null || HttpClient is not null || Process is not null
            || AwsClientConfig is not null || PollyBuilderBase is not null || HttpStandardResilienceOptions is not null || Budget is not null);

    public static KnownTypes Resolve(Compilation compilation) => new(compilation);

    public static bool IsOrDerivesFrom(ITypeSymbol? type, INamedTypeSymbol? baseType)
    {
        if (baseType is null)
        {
            return false;
        }

        for (var current = type; current is not null; current = current.BaseType)
        {
            if (SymbolEqualityComparer.Default.Equals(current.OriginalDefinition, baseType))
            {
                return true;
            }
        }

        return false;
    }

    public bool IsCancellationToken(ITypeSymbol? type) => type is not null && SymbolEqualityComparer.Default.Equals(type, CancellationToken);

    public bool IsTimeSpan(ITypeSymbol? type) => type is not null && SymbolEqualityComparer.Default.Equals(type, TimeSpan);

    public bool IsTask(ITypeSymbol? type) => IsOrDerivesFrom(type, Task);
}
