using Microsoft.CodeAnalysis;
using TimeoutBudget.Analyzers.Model;

namespace TimeoutBudget.Analyzers;

/// <summary>The types the rules understand, resolved once per compilation by metadata name.</summary>
internal sealed class KnownTypes
{
    private KnownTypes(Compilation compilation)
    {
        Lookup = new TypeLookup(compilation);
        TimeSpan = Lookup.FindInBaseLibrary("System.TimeSpan");
        Timeout = Lookup.FindInBaseLibrary("System.Threading.Timeout");
        CancellationToken = Lookup.FindInBaseLibrary("System.Threading.CancellationToken");
        CancellationTokenSource = Lookup.FindInBaseLibrary("System.Threading.CancellationTokenSource");
        Task = Lookup.FindInBaseLibrary("System.Threading.Tasks.Task", "System.Threading.Tasks");
        HttpClient = Lookup.FindInBaseLibrary("System.Net.Http.HttpClient", "System.Net.Http");
        Process = Lookup.FindInBaseLibrary("System.Diagnostics.Process", "System.Diagnostics.Process", "System");
        AwsClientConfig = Lookup.Find("Amazon.Runtime.ClientConfig", "AWSSDK.Core");
        PollyTimeoutOptions = Lookup.Find("Polly.Timeout.TimeoutStrategyOptions", "Polly.Core");
        PollyRetryOptions = Lookup.Find("Polly.Retry.RetryStrategyOptions`1", "Polly.Core")
            ?? Lookup.Find("Polly.Retry.RetryStrategyOptions", "Polly.Core");
        PollyBuilderBase = Lookup.Find("Polly.ResiliencePipelineBuilderBase", "Polly.Core");
        HttpStandardResilienceOptions = Lookup.Find("Microsoft.Extensions.Http.Resilience.HttpStandardResilienceOptions", "Microsoft.Extensions.Http.Resilience");
        HttpStandardHedgingOptions = Lookup.Find("Microsoft.Extensions.Http.Resilience.HttpStandardHedgingResilienceOptions", "Microsoft.Extensions.Http.Resilience");
        Budget = Lookup.Find("TimeoutBudget.Budget", "TimeoutBudget");
    }

    /// <summary>Finds further types the same way (the assembly that defines them, not every reference).</summary>
    public TypeLookup Lookup { get; }

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

        // Along the definitions: the base of a constructed generic type (List<Uri>) is substituted on first use, an allocation
        // per constructed type, while a definition's base is already there; both lead to the same definitions.
        for (var current = type?.OriginalDefinition; current is not null; current = current.BaseType?.OriginalDefinition)
        {
            if (SymbolEqualityComparer.Default.Equals(current, baseType))
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
