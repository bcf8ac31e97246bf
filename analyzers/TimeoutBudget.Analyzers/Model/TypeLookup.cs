using Microsoft.CodeAnalysis;

namespace TimeoutBudget.Analyzers.Model;

/// <summary>
/// Finds a type in the assembly that defines it instead of asking the compilation, whose <c>GetTypeByMetadataName</c> looks
/// into every reference: on a project with a few hundred references that made the compiler read the namespaces of every one
/// of them, about 2 s per compilation and half of the analyzer's time on a real service project (profiled on Squidex.Web).
/// </summary>
internal sealed class TypeLookup
{
    /// <summary>Where the base library's types are defined: reference packs, the implementation, .NET Standard, .NET Framework.</summary>
    public static readonly string[] CoreLibrary = { "System.Runtime", "System.Private.CoreLib", "netstandard", "mscorlib" };

    private readonly Compilation _compilation;
    private readonly Dictionary<string, IAssemblySymbol> _assemblies = new(StringComparer.OrdinalIgnoreCase);

    public TypeLookup(Compilation compilation)
    {
        _compilation = compilation;
        foreach (var reference in compilation.References)
        {
            if (compilation.GetAssemblyOrModuleSymbol(reference) is IAssemblySymbol assembly && !_assemblies.ContainsKey(assembly.Identity.Name))
            {
                _assemblies.Add(assembly.Identity.Name, assembly);
            }
        }
    }

    /// <summary>
    /// A package's type: from the first of <paramref name="assemblies"/> that defines it, else from the code being compiled (the
    /// package's own repository). Null when neither has it: the package is not referenced.
    /// </summary>
    public INamedTypeSymbol? Find(string metadataName, params string[] assemblies)
    {
        foreach (var name in assemblies)
        {
            if (_assemblies.TryGetValue(name, out var assembly) && assembly.GetTypeByMetadataName(metadataName) is { } type)
            {
                return type;
            }
        }

        return _compilation.Assembly.GetTypeByMetadataName(metadataName);
    }

    /// <summary>
    /// A base library type, which every compilation has: from where it is usually defined, else from the whole compilation (an
    /// unusual framework layout costs the slow lookup, never a missed type).
    /// </summary>
    public INamedTypeSymbol? FindInBaseLibrary(string metadataName, params string[] assemblies) =>
        Find(metadataName, assemblies.Length == 0 ? CoreLibrary : assemblies.Concat(CoreLibrary).ToArray())
        ?? _compilation.GetTypeByMetadataName(metadataName);
}
