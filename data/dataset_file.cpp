// write_dataset() and DatasetFile: the HDF5 layout described in dataset_file.h.
#include "data/dataset_file.h"

#include <xxhash.h>

#include <algorithm>
#include <functional>

#include "common/error.h"

namespace poet {

namespace {

constexpr hsize_t kChunkElements = 1 << 16;
constexpr unsigned kDeflateLevel = 4;

H5Handle utf8_string_type(size_t size) {
  H5Handle type(POET_H5_CHECK(H5Tcopy(H5T_C_S1)), H5Tclose);
  POET_H5_CHECK(H5Tset_size(type, size));
  POET_H5_CHECK(H5Tset_cset(type, H5T_CSET_UTF8));
  if (size != H5T_VARIABLE) POET_H5_CHECK(H5Tset_strpad(type, H5T_STR_NULLPAD));
  return type;
}

// A chunked, compressed, checksummed 1-D dataset of n elements.
H5Handle create_array(hid_t group, const char* name, hid_t file_type, hsize_t n) {
  const hsize_t dims[1] = {n};
  const hsize_t max_dims[1] = {H5S_UNLIMITED};
  H5Handle space(POET_H5_CHECK(H5Screate_simple(1, dims, max_dims)), H5Sclose);
  H5Handle plist(POET_H5_CHECK(H5Pcreate(H5P_DATASET_CREATE)), H5Pclose);
  const hsize_t chunk[1] = {std::clamp<hsize_t>(n, 1, kChunkElements)};
  POET_H5_CHECK(H5Pset_chunk(plist, 1, chunk));
  POET_H5_CHECK(H5Pset_shuffle(plist));
  POET_H5_CHECK(H5Pset_deflate(plist, kDeflateLevel));
  POET_H5_CHECK(H5Pset_fletcher32(plist));
  return H5Handle(POET_H5_CHECK(H5Dcreate2(group, name, file_type, space, H5P_DEFAULT, plist, H5P_DEFAULT)), H5Dclose);
}

template <typename T>
void write_array(hid_t group, const char* name, hid_t type, const std::vector<T>& data) {
  H5Handle dataset = create_array(group, name, type, data.size());
  if (!data.empty()) POET_H5_CHECK(H5Dwrite(dataset, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data.data()));
}

// Fixed-width UTF-8 strings: HDF5's filters (and so checksums) do not apply to variable-length ones.
void write_strings(hid_t group, const char* name, const std::vector<std::string>& strings) {
  size_t width = 1;
  for (const auto& s : strings) width = std::max(width, s.size());
  std::vector<char> buffer(width * strings.size(), '\0');
  for (size_t i = 0; i < strings.size(); ++i) std::copy(strings[i].begin(), strings[i].end(), &buffer[i * width]);
  H5Handle type = utf8_string_type(width);
  H5Handle dataset = create_array(group, name, type, strings.size());
  if (!strings.empty()) POET_H5_CHECK(H5Dwrite(dataset, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, buffer.data()));
}

void write_attribute(hid_t object, const char* name, const std::string& value) {
  H5Handle type = utf8_string_type(H5T_VARIABLE);
  H5Handle space(POET_H5_CHECK(H5Screate(H5S_SCALAR)), H5Sclose);
  H5Handle attr(POET_H5_CHECK(H5Acreate2(object, name, type, space, H5P_DEFAULT, H5P_DEFAULT)), H5Aclose);
  const char* text = value.c_str();
  POET_H5_CHECK(H5Awrite(attr, type, &text));
}

template <typename T>
void write_attribute(hid_t object, const char* name, hid_t type, T value) {
  H5Handle space(POET_H5_CHECK(H5Screate(H5S_SCALAR)), H5Sclose);
  H5Handle attr(POET_H5_CHECK(H5Acreate2(object, name, type, space, H5P_DEFAULT, H5P_DEFAULT)), H5Aclose);
  POET_H5_CHECK(H5Awrite(attr, type, &value));
}

template <typename T>
uint64_t xxh64_of(const std::vector<T>& data) {
  return XXH64(data.data(), data.size() * sizeof(T), 0);
}

void write_split(hid_t file, const char* name, const SplitData& split) {
  H5Handle group(POET_H5_CHECK(H5Gcreate2(file, name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT)), H5Gclose);
  write_array(group, "tokens", H5T_NATIVE_INT32, split.tokens);
  write_array(group, "poem_offsets", H5T_NATIVE_INT64, split.poem_offsets);
  write_array(group, "shard_offsets", H5T_NATIVE_INT64, split.shard_offsets);
  write_array(group, "forms", H5T_NATIVE_UINT8, split.forms);
  write_strings(group, "poem_ids", split.poem_ids);
  write_attribute(group, "tokens_xxh64", H5T_NATIVE_UINT64, xxh64_of(split.tokens));
  write_attribute(group, "poem_offsets_xxh64", H5T_NATIVE_UINT64, xxh64_of(split.poem_offsets));
}

std::vector<int64_t> tone_column(const std::vector<ToneCounts>& tones, int64_t ToneCounts::*field) {
  std::vector<int64_t> column;
  column.reserve(tones.size());
  for (const auto& t : tones) column.push_back(t.*field);
  return column;
}

hsize_t array_length(hid_t dataset) {
  H5Handle space(POET_H5_CHECK(H5Dget_space(dataset)), H5Sclose);
  if (POET_H5_CHECK(H5Sget_simple_extent_ndims(space)) != 1) throw Error("expected a 1-D dataset");
  hsize_t n = 0;
  POET_H5_CHECK(H5Sget_simple_extent_dims(space, &n, nullptr));
  return n;
}

template <typename T>
std::vector<T> read_array(hid_t file, const std::string& name, hid_t type) {
  H5Handle dataset(POET_H5_CHECK(H5Dopen2(file, name.c_str(), H5P_DEFAULT)), H5Dclose);
  std::vector<T> data(array_length(dataset));
  if (!data.empty()) POET_H5_CHECK(H5Dread(dataset, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data.data()));
  return data;
}

std::vector<std::string> read_strings(hid_t file, const std::string& name) {
  H5Handle dataset(POET_H5_CHECK(H5Dopen2(file, name.c_str(), H5P_DEFAULT)), H5Dclose);
  H5Handle file_type(POET_H5_CHECK(H5Dget_type(dataset)), H5Tclose);
  const hsize_t n = array_length(dataset);
  std::vector<std::string> strings;
  strings.reserve(n);
  if (n == 0) return strings;
  if (POET_H5_CHECK(H5Tis_variable_str(file_type)) > 0)
    throw Error(name + " holds variable-length strings, expected fixed-width");
  const size_t width = H5Tget_size(file_type);
  H5Handle type = utf8_string_type(width);
  std::vector<char> buffer(width * n);
  POET_H5_CHECK(H5Dread(dataset, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, buffer.data()));
  for (size_t i = 0; i < n; ++i) {
    const char* start = &buffer[i * width];
    strings.emplace_back(start, strnlen(start, width));
  }
  return strings;
}

std::string read_string_attribute(hid_t object, const char* name) {
  H5Handle attr(POET_H5_CHECK(H5Aopen(object, name, H5P_DEFAULT)), H5Aclose);
  H5Handle type = utf8_string_type(H5T_VARIABLE);
  char* text = nullptr;
  POET_H5_CHECK(H5Aread(attr, type, &text));
  std::string value(text != nullptr ? text : "");
  H5free_memory(text);
  return value;
}

template <typename T>
T read_attribute(hid_t object, const char* name, hid_t type) {
  H5Handle attr(POET_H5_CHECK(H5Aopen(object, name, H5P_DEFAULT)), H5Aclose);
  T value{};
  POET_H5_CHECK(H5Aread(attr, type, &value));
  return value;
}

std::string split_path(Split split, const char* name) { return std::string("/") + split_name(split) + "/" + name; }

}  // namespace

const char* split_name(Split split) { return split == Split::kTrain ? "train" : "val"; }

void write_dataset(const std::string& path, const DatasetContents& contents) {
  h5_silence_library_errors();
  try {
    H5Handle file(POET_H5_CHECK(H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT)), H5Fclose);
    write_attribute(file, "format_version", H5T_NATIVE_INT32, kDatasetFormatVersion);
    write_attribute(file, "options", contents.options.dump());
    write_attribute(file, "report", contents.report.dump());
    write_attribute(file, "sources", contents.sources.dump());
    {
      H5Handle vocab(POET_H5_CHECK(H5Gcreate2(file, "vocab", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT)), H5Gclose);
      write_strings(vocab, "tokens", contents.vocab.tokens());
      write_array(vocab, "counts", H5T_NATIVE_INT64, contents.counts);
      write_array(vocab, "tone_level", H5T_NATIVE_INT64, tone_column(contents.tones, &ToneCounts::level));
      write_array(vocab, "tone_oblique", H5T_NATIVE_INT64, tone_column(contents.tones, &ToneCounts::oblique));
      write_array(vocab, "tone_either", H5T_NATIVE_INT64, tone_column(contents.tones, &ToneCounts::either));
      write_attribute(vocab, "checksum_xxh64", H5T_NATIVE_UINT64, contents.vocab.checksum());
    }
    if (!contents.rhyme_table.empty()) {
      const RhymeTable& r = contents.rhyme_table;
      H5Handle rhyme(POET_H5_CHECK(H5Gcreate2(file, "rhyme", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT)), H5Gclose);
      write_strings(rhyme, "group_names", r.group_names);
      write_array(rhyme, "group_level", H5T_NATIVE_UINT8, r.group_level);
      write_array(rhyme, "token_offsets", H5T_NATIVE_INT64, r.token_offsets);
      write_array(rhyme, "token_groups", H5T_NATIVE_INT16, r.token_groups);
    }
    write_split(file, "train", contents.train);
    write_split(file, "val", contents.val);
    POET_H5_CHECK(H5Fflush(file, H5F_SCOPE_GLOBAL));
  } catch (const Error& e) {
    throw Error(path + ": cannot write dataset: " + e.what());
  }
}

DatasetFile::DatasetFile(const std::string& path) : path_(path) {
  h5_silence_library_errors();
  const htri_t is_hdf5 = H5Fis_hdf5(path.c_str());
  if (is_hdf5 <= 0) {
    throw Error(path + ": not an HDF5 file (missing, unreadable, or not written by poet_dist prepare)");
  }
  try {
    file_ = H5Handle(POET_H5_CHECK(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT)), H5Fclose);
    if (POET_H5_CHECK(H5Aexists(file_, "format_version")) <= 0) {
      throw Error("attribute 'format_version' is missing: not a poet_dist dataset");
    }
    const auto version = read_attribute<int32_t>(file_, "format_version", H5T_NATIVE_INT32);
    if (version != kDatasetFormatVersion) {
      throw Error("format_version is " + std::to_string(version) + ", this build reads version " +
                  std::to_string(kDatasetFormatVersion) + " (run prepare again)");
    }
    vocab_ = Vocabulary::from_tokens(read_strings(file_, "/vocab/tokens"));
  } catch (const Error& e) {
    throw Error(path + ": " + e.what());
  }
}

nlohmann::json DatasetFile::attribute_json(const char* name) const {
  try {
    return nlohmann::json::parse(read_string_attribute(file_, name));
  } catch (const nlohmann::json::exception& e) {
    throw Error(path_ + ": attribute '" + name + "' is not valid JSON: " + e.what());
  } catch (const Error& e) {
    throw Error(path_ + ": attribute '" + name + "': " + e.what());
  }
}

std::vector<int64_t> DatasetFile::vocab_counts() const {
  try {
    return read_array<int64_t>(file_, "/vocab/counts", H5T_NATIVE_INT64);
  } catch (const Error& e) {
    throw Error(path_ + ": /vocab/counts: " + e.what());
  }
}

std::vector<ToneCounts> DatasetFile::tones() const {
  try {
    const auto level = read_array<int64_t>(file_, "/vocab/tone_level", H5T_NATIVE_INT64);
    const auto oblique = read_array<int64_t>(file_, "/vocab/tone_oblique", H5T_NATIVE_INT64);
    const auto either = read_array<int64_t>(file_, "/vocab/tone_either", H5T_NATIVE_INT64);
    if (level.size() != vocab_.size() || oblique.size() != vocab_.size() || either.size() != vocab_.size()) {
      throw Error("tone arrays do not have one entry per vocabulary token");
    }
    std::vector<ToneCounts> tones(level.size());
    for (size_t i = 0; i < tones.size(); ++i) tones[i] = ToneCounts{level[i], oblique[i], either[i]};
    return tones;
  } catch (const Error& e) {
    throw Error(path_ + ": /vocab/tone_*: " + e.what());
  }
}

RhymeTable DatasetFile::rhyme_table() const {
  RhymeTable r;
  try {
    if (POET_H5_CHECK(H5Lexists(file_, "rhyme", H5P_DEFAULT)) <= 0) return r;
    r.group_names = read_strings(file_, "/rhyme/group_names");
    r.group_level = read_array<uint8_t>(file_, "/rhyme/group_level", H5T_NATIVE_UINT8);
    r.token_offsets = read_array<int64_t>(file_, "/rhyme/token_offsets", H5T_NATIVE_INT64);
    r.token_groups = read_array<int16_t>(file_, "/rhyme/token_groups", H5T_NATIVE_INT16);
    const auto groups = static_cast<int16_t>(r.group_names.size());
    const bool offsets_fit = r.token_offsets.size() == vocab_.size() + 1 && r.token_offsets.front() == 0 &&
                             std::is_sorted(r.token_offsets.begin(), r.token_offsets.end()) &&
                             r.token_offsets.back() == static_cast<int64_t>(r.token_groups.size());
    // Readers intersect a token's groups as sorted sets (shared_rhymes()).
    bool groups_fit = offsets_fit;
    for (size_t t = 0; groups_fit && t + 1 < r.token_offsets.size(); ++t) {
      const auto first = r.token_groups.begin() + r.token_offsets[t];
      const auto last = r.token_groups.begin() + r.token_offsets[t + 1];
      groups_fit = std::all_of(first, last, [&](int16_t g) { return g >= 0 && g < groups; }) &&
                   std::adjacent_find(first, last, std::greater_equal<int16_t>()) == last;
    }
    if (r.group_level.size() != r.group_names.size() || !groups_fit) {
      throw Error(
          "expected one level flag a group, token_offsets rising from 0 over the vocabulary to the end of "
          "token_groups, and each token's group numbers rising, below " +
          std::to_string(groups));
    }
    return r;
  } catch (const Error& e) {
    throw Error(path_ + ": /rhyme: " + e.what());
  }
}

SplitData DatasetFile::read_index(Split split) const {
  try {
    SplitData data;
    data.poem_offsets = read_array<int64_t>(file_, split_path(split, "poem_offsets"), H5T_NATIVE_INT64);
    data.shard_offsets = read_array<int64_t>(file_, split_path(split, "shard_offsets"), H5T_NATIVE_INT64);
    data.forms = read_array<uint8_t>(file_, split_path(split, "forms"), H5T_NATIVE_UINT8);
    data.poem_ids = read_strings(file_, split_path(split, "poem_ids"));
    // Readers index one array by the other: refuse an index that would send them out of bounds.
    const auto ascending_from_zero = [](const std::vector<int64_t>& v) {
      return !v.empty() && v.front() == 0 && std::is_sorted(v.begin(), v.end());
    };
    const auto poems = static_cast<int64_t>(data.poem_offsets.size()) - 1;
    if (!ascending_from_zero(data.poem_offsets)) throw Error("poem_offsets must rise from 0");
    if (!ascending_from_zero(data.shard_offsets) || data.shard_offsets.back() != poems) {
      throw Error("shard_offsets must rise from 0 to the number of poems (" + std::to_string(poems) + ")");
    }
    if (data.forms.size() != static_cast<size_t>(poems) || data.poem_ids.size() != static_cast<size_t>(poems)) {
      throw Error("forms and poem_ids must hold one entry a poem (" + std::to_string(poems) + ")");
    }
    return data;
  } catch (const Error& e) {
    throw Error(path_ + ": /" + split_name(split) + ": " + e.what());
  }
}

std::vector<int32_t> DatasetFile::read_tokens(Split split, int64_t begin, int64_t end) const {
  const std::string name = split_path(split, "tokens");
  try {
    H5Handle dataset(POET_H5_CHECK(H5Dopen2(file_, name.c_str(), H5P_DEFAULT)), H5Dclose);
    const auto length = static_cast<int64_t>(array_length(dataset));
    if (begin < 0 || end < begin || end > length) {
      throw Error("token range [" + std::to_string(begin) + ", " + std::to_string(end) + ") is outside [0, " +
                  std::to_string(length) + ")");
    }
    std::vector<int32_t> tokens(static_cast<size_t>(end - begin));
    if (tokens.empty()) return tokens;
    H5Handle file_space(POET_H5_CHECK(H5Dget_space(dataset)), H5Sclose);
    const hsize_t start[1] = {static_cast<hsize_t>(begin)};
    const hsize_t count[1] = {tokens.size()};
    POET_H5_CHECK(H5Sselect_hyperslab(file_space, H5S_SELECT_SET, start, nullptr, count, nullptr));
    H5Handle memory_space(POET_H5_CHECK(H5Screate_simple(1, count, nullptr)), H5Sclose);
    POET_H5_CHECK(H5Dread(dataset, H5T_NATIVE_INT32, memory_space, file_space, H5P_DEFAULT, tokens.data()));
    return tokens;
  } catch (const Error& e) {
    throw Error(path_ + ": " + name + ": " + e.what());
  }
}

uint64_t DatasetFile::stored_checksum(Split split, const char* name) const {
  try {
    H5Handle group(POET_H5_CHECK(H5Gopen2(file_, split_name(split), H5P_DEFAULT)), H5Gclose);
    return read_attribute<uint64_t>(group, name, H5T_NATIVE_UINT64);
  } catch (const Error& e) {
    throw Error(path_ + ": /" + split_name(split) + " attribute " + name + ": " + e.what());
  }
}

}  // namespace poet
