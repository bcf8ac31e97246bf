using System.Collections.Concurrent;
using System.Collections.Immutable;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Operations;

namespace TimeoutBudget.Analyzers.Model;

/// <summary>
/// Resolves what code reads from configuration against the project's configuration files: <c>configuration["A:B"]</c>,
/// <c>GetSection("A").Value</c>, <c>GetValue&lt;T&gt;("A:B")</c>, and the properties of options and settings types bound to a
/// section anywhere in the compilation (<c>services.Configure&lt;T&gt;(section)</c>, <c>AddOptions&lt;T&gt;().Bind(section)</c>,
/// <c>BindConfiguration("A")</c>, <c>section.Get&lt;T&gt;()</c>, <c>section.Bind(instance)</c>), nested settings by property path.
/// </summary>
internal sealed class ConfigurationReads
{
    private const int MaxDepth = 8;

    private readonly ConfigurationFiles _files;
    private readonly Declarations _declarations;
    private readonly INamedTypeSymbol? _configuration;
    private readonly INamedTypeSymbol? _section;
    private readonly ConcurrentDictionary<ITypeSymbol, ImmutableArray<string?>> _bindings = new(SymbolEqualityComparer.Default);

    public ConfigurationReads(TypeLookup lookup, ConfigurationFiles files, Declarations declarations)
    {
        _files = files;
        _declarations = declarations;
        _configuration = lookup.Find("Microsoft.Extensions.Configuration.IConfiguration", "Microsoft.Extensions.Configuration.Abstractions");
        _section = lookup.Find("Microsoft.Extensions.Configuration.IConfigurationSection", "Microsoft.Extensions.Configuration.Abstractions");
    }

    private bool IsActive => _configuration is not null && !_files.IsEmpty;

    /// <summary>The string a configuration read returns: an indexer, a section's <c>Value</c>, <c>GetValue&lt;string&gt;</c>, through locals.</summary>
    public ConfiguredValue? StringRead(IOperation operation) =>
        IsActive && KeyRead(operation, 0) is { } key ? _files.Find(key) : null;

    /// <summary>
    /// <c>GetValue&lt;T&gt;(key)</c> or <c>GetValue&lt;T&gt;(key, default)</c>: the file's value, or, when no file sets the key, the
    /// default argument to evaluate instead (<paramref name="fallback"/>).
    /// </summary>
    public ConfiguredValue? GetValue(IInvocationOperation call, out IOperation? fallback)
    {
        fallback = null;
        if (!IsActive || call.TargetMethod is not { Name: "GetValue", ContainingType.Name: "ConfigurationBinder" }
            || Receiver(call) is not { } receiver || SectionPath(receiver, 0) is not { } section || Key(call) is not { } key)
        {
            return null;
        }

        if (_files.Find(Combine(section, key)) is { } value)
        {
            return value;
        }

        fallback = call.Arguments.FirstOrDefault(a => a.Parameter?.Name == "defaultValue" && a.ArgumentKind == ArgumentKind.Explicit)?.Value;
        return null;
    }

    /// <summary>
    /// A property of a type bound to configuration, when a file sets its key. Several bindings that disagree give no value;
    /// <paramref name="ambiguous"/> then tells the caller not to fall back to the declared default either.
    /// </summary>
    public ConfiguredValue? BoundProperty(IPropertyReferenceOperation reference, out bool ambiguous)
    {
        ambiguous = false;
        if (!IsActive || reference.Property.IsStatic || !IsSettingsType(reference.Property))
        {
            return null;
        }

        ConfiguredValue? found = null;
        foreach (var section in Sections(reference.Property.ContainingType, reference.Instance, 0))
        {
            if (_files.Find(Combine(section, KeyName(reference.Property))) is not { } value)
            {
                continue;
            }

            if (found is not null && found.Text != value.Text)
            {
                ambiguous = true;
                return null;
            }

            found ??= value;
        }

        return found;
    }

    /// <summary>
    /// Options bound straight from a section (<c>AddStandardResilienceHandler(configuration.GetSection("Http"))</c>): what the file
    /// sets at <paramref name="relativeKey"/> below that section.
    /// </summary>
    public ConfiguredValue? Under(IOperation section, string relativeKey) =>
        IsActive && SectionPath(section, 0) is { } path ? _files.Find(Combine(path, relativeKey)) : null;

    /// <summary>Whether the value is an <c>IConfigurationSection</c> (or any <c>IConfiguration</c>).</summary>
    public bool IsConfigurationValue(IOperation value) => IsConfiguration(DurationEvaluator.SkipConversions(value).Type);

    /// <summary>The sections an instance of <paramref name="type"/> is bound from: its own bindings, or its parent's property's key.</summary>
    private IEnumerable<string> Sections(ITypeSymbol type, IOperation? instance, int depth)
    {
        if (depth > MaxDepth)
        {
            yield break;
        }

        foreach (var section in Bindings(type))
        {
            if (section is not null)
            {
                yield return section;
            }
        }

        if (instance is not null && DurationEvaluator.SkipConversions(instance) is IPropertyReferenceOperation { Arguments.Length: 0 } parent
            && IsSettingsType(parent.Property))
        {
            foreach (var section in Sections(parent.Property.ContainingType, parent.Instance, depth + 1))
            {
                yield return Combine(section, KeyName(parent.Property));
            }
        }
    }

    private ImmutableArray<string?> Bindings(ITypeSymbol type) => _bindings.GetOrAdd(type, FindBindings);

    /// <summary>Every place the compilation binds configuration to <paramref name="type"/>; null for a section it cannot name.</summary>
    private ImmutableArray<string?> FindBindings(ITypeSymbol type)
    {
        var sections = ImmutableArray.CreateBuilder<string?>();
        foreach (var (call, _) in _declarations.InvocationsNamed(type.Name, "Configure", "Bind", "BindConfiguration", "Get"))
        {
            var method = call.TargetMethod;
            var typeArgument = method.TypeArguments.Length == 1 ? method.TypeArguments[0] : null;
            switch (method.ContainingType?.Name)
            {
                case "OptionsConfigurationServiceCollectionExtensions" when method.Name == "Configure" && SameType(typeArgument, type):
                case "OptionsBuilderConfigurationExtensions" when method.Name == "Bind" && SameType(typeArgument, type):
                    var config = call.Arguments.FirstOrDefault(a => IsConfiguration(a.Parameter?.Type));
                    sections.Add(config is null ? null : SectionPath(config.Value, 0));
                    break;
                case "OptionsBuilderConfigurationExtensions" when method.Name == "BindConfiguration" && SameType(typeArgument, type):
                    sections.Add(call.Arguments.FirstOrDefault(a => a.Parameter?.Name == "configSectionPath")?.Value is { } sectionPath ? Text(sectionPath) : null);
                    break;
                case "ConfigurationBinder" when method.Name == "Get" && SameType(typeArgument, type):
                    sections.Add(Receiver(call) is { } got ? SectionPath(got, 0) : null);
                    break;
                case "ConfigurationBinder" when method.Name == "Bind"
                    && call.Arguments.FirstOrDefault(a => a.Parameter?.Name == "instance") is { } instance
                    && SameType(DurationEvaluator.SkipConversions(instance.Value).Type, type):
                    var bound = Receiver(call) is { } receiver ? SectionPath(receiver, 0) : null;
                    sections.Add(bound is null ? null : Key(call) is { } key ? Combine(bound, key) : call.Arguments.Any(a => a.Parameter?.Name == "key") ? null : bound);
                    break;
            }
        }

        return sections.ToImmutable();
    }

    /// <summary>The full key a read names, or null when it is not a read of a section this can follow.</summary>
    private string? KeyRead(IOperation operation, int depth)
    {
        if (depth > MaxDepth)
        {
            return null;
        }

        operation = DurationEvaluator.SkipConversions(operation);
        switch (operation)
        {
            case IPropertyReferenceOperation { Property.IsIndexer: true, Arguments.Length: 1 } indexer when IsConfiguration(indexer.Property.ContainingType)
                && indexer.Instance is { } instance && Text(indexer.Arguments[0].Value) is { } key:
                return SectionPath(instance, depth + 1) is { } section ? Combine(section, key) : null;
            case IPropertyReferenceOperation { Property.Name: "Value", Instance: { } valueOf } when IsSection(valueOf.Type):
                return SectionPath(valueOf, depth + 1);
            case IInvocationOperation { TargetMethod: { Name: "GetValue", ContainingType.Name: "ConfigurationBinder" } } call
                when call.TargetMethod.TypeArguments.Length == 1 && call.TargetMethod.TypeArguments[0].SpecialType == SpecialType.System_String
                && Receiver(call) is { } receiver && Key(call) is { } name:
                return SectionPath(receiver, depth + 1) is { } path ? Combine(path, name) : null;
            case ILocalReferenceOperation local when DurationEvaluator.SingleAssignedValue(local.Local, operation) is { } value:
                return KeyRead(value, depth + 1);
            default:
                return null;
        }
    }

    /// <summary>The section an <c>IConfiguration</c> expression stands for: "" for the root, "A:B" for <c>GetSection("A").GetSection("B")</c>.</summary>
    private string? SectionPath(IOperation operation, int depth)
    {
        if (depth > MaxDepth)
        {
            return null;
        }

        operation = DurationEvaluator.SkipConversions(operation);
        switch (operation)
        {
            case IInvocationOperation { TargetMethod.Name: "GetSection" or "GetRequiredSection" } call when Receiver(call) is { } parent && Key(call) is { } key:
                return SectionPath(parent, depth + 1) is { } path ? Combine(path, key) : null;
            case ILocalReferenceOperation local:
                return DurationEvaluator.SingleAssignedValue(local.Local, operation) is { } value ? SectionPath(value, depth + 1) : null;
            default:
                // A configuration that is not a section (IConfiguration, IConfigurationRoot, ConfigurationManager) is the root; a
                // section handed in from elsewhere cannot be named.
                return IsConfiguration(operation.Type) && !IsSection(operation.Type) ? string.Empty : null;
        }
    }

    private string? Key(IInvocationOperation call) =>
        call.Arguments.FirstOrDefault(a => a.Parameter?.Name == "key")?.Value is { } key ? Text(key) : null;

    /// <summary>A key written as a constant, or as a static member that returns one (<c>public static string SectionName => "Resilience"</c>).</summary>
    private string? Text(IOperation operation)
    {
        if (operation.ConstantValue.Value is string constant)
        {
            return constant;
        }

        var member = DurationEvaluator.SkipConversions(operation) switch
        {
            IPropertyReferenceOperation { Property.IsStatic: true } property => (ISymbol)property.Property,
            IFieldReferenceOperation { Field.IsStatic: true, Field.IsReadOnly: true } field => field.Field,
            _ => null,
        };
        return member is not null && !(member is IPropertySymbol { SetMethod: not null } && _declarations.IsWrittenElsewhere(member))
            ? _declarations.InitialValue(member)?.ConstantValue.Value as string
            : null;
    }

    private static IOperation? Receiver(IInvocationOperation call) => Roots.Receiver(call);

    /// <summary>
    /// Whether a property can belong to the user's own settings: declared in source, or in a referenced assembly of theirs (an
    /// options class in a shared project). The platform's and the libraries' own types (<c>HttpClient.Timeout</c>,
    /// <c>IOptions&lt;T&gt;.Value</c>) are never looked up as bound settings.
    /// </summary>
    private static bool IsSettingsType(IPropertySymbol property)
    {
        if (property.DeclaringSyntaxReferences.Length > 0)
        {
            return true;
        }

        var assembly = property.ContainingAssembly?.Name ?? string.Empty;
        return !(assembly.StartsWith("System", StringComparison.Ordinal) || assembly.StartsWith("Microsoft", StringComparison.Ordinal)
            || assembly.StartsWith("Polly", StringComparison.Ordinal) || assembly.StartsWith("AWSSDK", StringComparison.Ordinal)
            || assembly.StartsWith("Grpc", StringComparison.Ordinal) || assembly is "netstandard" or "mscorlib" or "TimeoutBudget"
            || assembly.Length == 0);
    }

    private static string Combine(string section, string key) => section.Length == 0 ? key : section + ":" + key;

    /// <summary>The key a property binds from: its name, or <c>[ConfigurationKeyName("…")]</c>.</summary>
    private static string KeyName(IPropertySymbol property)
    {
        foreach (var attribute in property.GetAttributes())
        {
            if (attribute.AttributeClass?.Name == "ConfigurationKeyNameAttribute" && attribute.ConstructorArguments.Length == 1
                && attribute.ConstructorArguments[0].Value is string name)
            {
                return name;
            }
        }

        return property.Name;
    }

    private static bool SameType(ITypeSymbol? left, ITypeSymbol right) =>
        left is not null && SymbolEqualityComparer.Default.Equals(left.OriginalDefinition, right.OriginalDefinition);

    private bool IsConfiguration(ITypeSymbol? type) => Implements(type, _configuration);

    private bool IsSection(ITypeSymbol? type) => Implements(type, _section);

    private static bool Implements(ITypeSymbol? type, INamedTypeSymbol? contract) =>
        type is not null && contract is not null
        && (SymbolEqualityComparer.Default.Equals(type, contract) || type.AllInterfaces.Contains(contract, SymbolEqualityComparer.Default));
}
