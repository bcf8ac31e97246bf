using System.Collections.Immutable;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Diagnostics;
using Microsoft.CodeAnalysis.Text;

namespace TimeoutBudget.Analyzers.Model;

/// <summary>A value read from a configuration file: where it is written, under which key, and its text.</summary>
internal sealed class ConfiguredValue
{
    public ConfiguredValue(string key, string text, Location location)
    {
        Key = key;
        Text = text;
        Location = location;
    }

    /// <summary>The full key, as the configuration system flattens it (<c>Http:TimeoutSeconds</c>).</summary>
    public string Key { get; }

    public string Text { get; }

    /// <summary>The value's place in the JSON file; reported as an additional location.</summary>
    public Location Location { get; }

    public string Describe()
    {
        var span = Location.GetLineSpan();
        return $"{Duration.FileName(span.Path)}:{span.StartLinePosition.Line + 1} (configuration key '{Key}' = \"{Text}\")";
    }
}

/// <summary>
/// The project's <c>appsettings.json</c> and <c>appsettings.{Environment}.json</c> handed to the analyzer as AdditionalFiles,
/// flattened the way Microsoft.Extensions.Configuration flattens JSON (<c>Section:Key</c>, arrays by index, keys compared
/// without case), with the environment file overriding the base one. The environment is the host's default, Production,
/// unless <c>timeout_budget.environment</c> names another in .editorconfig or .globalconfig.
/// </summary>
internal sealed class ConfigurationFiles
{
    public const string EnvironmentOption = "timeout_budget.environment";
    private const string DefaultEnvironment = "Production";

    public static readonly ConfigurationFiles None = new(ImmutableDictionary<string, ConfiguredValue>.Empty);

    private readonly ImmutableDictionary<string, ConfiguredValue> _values;

    private ConfigurationFiles(ImmutableDictionary<string, ConfiguredValue> values) => _values = values;

    public bool IsEmpty => _values.Count == 0;

    public ConfiguredValue? Find(string key) => _values.TryGetValue(key, out var value) ? value : null;

    public static ConfigurationFiles Read(Compilation compilation, AnalyzerOptions options, CancellationToken cancellationToken)
    {
        // A project-wide choice: a .globalconfig, or an .editorconfig section that covers the sources.
        var provider = options.AnalyzerConfigOptionsProvider;
        var environment = provider.GlobalOptions.TryGetValue(EnvironmentOption, out var configured) && !string.IsNullOrWhiteSpace(configured)
            ? configured.Trim()
            : compilation.SyntaxTrees.FirstOrDefault() is { } tree && provider.GetOptions(tree).TryGetValue(EnvironmentOption, out var inEditorConfig)
                && !string.IsNullOrWhiteSpace(inEditorConfig) ? inEditorConfig.Trim() : DefaultEnvironment;
        AdditionalText? baseFile = null;
        AdditionalText? environmentFile = null;
        foreach (var file in options.AdditionalFiles)
        {
            var name = Duration.FileName(file.Path);
            if (string.Equals(name, "appsettings.json", StringComparison.OrdinalIgnoreCase))
            {
                baseFile ??= file;
            }
            else if (string.Equals(name, $"appsettings.{environment}.json", StringComparison.OrdinalIgnoreCase))
            {
                environmentFile ??= file;
            }
        }

        if (baseFile is null && environmentFile is null)
        {
            return None;
        }

        var values = ImmutableDictionary.CreateBuilder<string, ConfiguredValue>(StringComparer.OrdinalIgnoreCase);
        foreach (var file in new[] { baseFile, environmentFile })
        {
            if (file?.GetText(cancellationToken) is { } text)
            {
                // A file the host could not read either is no configuration; what was read before the error still counts.
                new JsonFlattener(file.Path, text, values).Read();
            }
        }

        return new ConfigurationFiles(values.ToImmutable());
    }

    /// <summary>
    /// A tolerant JSON reader for configuration files: comments and trailing commas are allowed (as the host allows them),
    /// and anything malformed ends the reading without an exception.
    /// </summary>
    private sealed class JsonFlattener
    {
        private const int MaxDepth = 64;
        private readonly string _path;
        private readonly SourceText _source;
        private readonly string _text;
        private readonly ImmutableDictionary<string, ConfiguredValue>.Builder _values;
        private int _position;

        public JsonFlattener(string path, SourceText source, ImmutableDictionary<string, ConfiguredValue>.Builder values)
        {
            _path = path;
            _source = source;
            _text = source.ToString();
            _values = values;
        }

        public void Read()
        {
            SkipTrivia();
            if (Peek() == '{')
            {
                ReadValue(string.Empty, 0);
            }
        }

        private char Peek() => _position < _text.Length ? _text[_position] : '\0';

        private bool ReadValue(string key, int depth)
        {
            if (depth > MaxDepth)
            {
                return false;
            }

            SkipTrivia();
            switch (Peek())
            {
                case '{':
                    return ReadContainer(key, depth, '}', isObject: true);
                case '[':
                    return ReadContainer(key, depth, ']', isObject: false);
                case '"':
                    var start = _position;
                    if (ReadString() is not { } text)
                    {
                        return false;
                    }

                    Add(key, text, start);
                    return true;
                default:
                    var literalStart = _position;
                    while (_position < _text.Length && (char.IsLetterOrDigit(_text[_position]) || _text[_position] is '-' or '+' or '.'))
                    {
                        _position++;
                    }

                    if (_position == literalStart)
                    {
                        return false;
                    }

                    var literal = _text.Substring(literalStart, _position - literalStart);
                    if (literal != "null")
                    {
                        Add(key, literal, literalStart);
                    }

                    return true;
            }
        }

        private bool ReadContainer(string key, int depth, char close, bool isObject)
        {
            _position++;
            var index = 0;
            while (true)
            {
                SkipTrivia();
                if (Peek() == close)
                {
                    _position++;
                    return true;
                }

                string child;
                if (isObject)
                {
                    if (Peek() != '"' || ReadString() is not { } name)
                    {
                        return false;
                    }

                    SkipTrivia();
                    if (Peek() != ':')
                    {
                        return false;
                    }

                    _position++;
                    child = name;
                }
                else
                {
                    child = (index++).ToString(System.Globalization.CultureInfo.InvariantCulture);
                }

                if (!ReadValue(key.Length == 0 ? child : key + ":" + child, depth + 1))
                {
                    return false;
                }

                SkipTrivia();
                if (Peek() == ',')
                {
                    _position++;
                }
                else if (Peek() != close)
                {
                    return false;
                }
            }
        }

        private string? ReadString()
        {
            _position++;
            var builder = new System.Text.StringBuilder();
            while (_position < _text.Length)
            {
                var c = _text[_position++];
                if (c == '"')
                {
                    return builder.ToString();
                }

                if (c != '\\')
                {
                    builder.Append(c);
                    continue;
                }

                if (_position >= _text.Length)
                {
                    return null;
                }

                var escaped = _text[_position++];
                switch (escaped)
                {
                    case 'n': builder.Append('\n'); break;
                    case 't': builder.Append('\t'); break;
                    case 'r': builder.Append('\r'); break;
                    case 'b': builder.Append('\b'); break;
                    case 'f': builder.Append('\f'); break;
                    case 'u' when _position + 4 <= _text.Length
                        && int.TryParse(_text.Substring(_position, 4), System.Globalization.NumberStyles.HexNumber, System.Globalization.CultureInfo.InvariantCulture, out var code):
                        builder.Append((char)code);
                        _position += 4;
                        break;
                    case 'u': return null;
                    default: builder.Append(escaped); break;
                }
            }

            return null;
        }

        private void SkipTrivia()
        {
            while (_position < _text.Length)
            {
                var c = _text[_position];
                if (char.IsWhiteSpace(c))
                {
                    _position++;
                }
                else if (c == '/' && _position + 1 < _text.Length && _text[_position + 1] == '/')
                {
                    while (_position < _text.Length && _text[_position] != '\n')
                    {
                        _position++;
                    }
                }
                else if (c == '/' && _position + 1 < _text.Length && _text[_position + 1] == '*')
                {
                    var end = _text.IndexOf("*/", _position + 2, StringComparison.Ordinal);
                    _position = end < 0 ? _text.Length : end + 2;
                }
                else
                {
                    return;
                }
            }
        }

        private void Add(string key, string text, int start)
        {
            var span = TextSpan.FromBounds(start, _position);
            _values[key] = new ConfiguredValue(key, text, Location.Create(_path, span, _source.Lines.GetLinePositionSpan(span)));
        }
    }
}
