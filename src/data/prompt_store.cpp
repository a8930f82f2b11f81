#include "opd/data/prompt_store.h"

#include "opd/core/atomic_file.h"

#include <H5Cpp.h>
#include <c10/util/Exception.h>

#include <filesystem>

namespace opd::data {
namespace {

constexpr const char* kFormat = "opd-prompts-1";

void write_ragged(H5::H5File& file, const std::string& name, const std::vector<const std::vector<int64_t>*>& rows) {
  std::vector<int64_t> flat, offsets{0};
  for (const auto* r : rows) {
    flat.insert(flat.end(), r->begin(), r->end());
    offsets.push_back(static_cast<int64_t>(flat.size()));
  }
  for (const auto& [suffix, data] : {std::make_pair(std::string("_ids"), &flat), std::make_pair(std::string("_offsets"), &offsets)}) {
    const hsize_t n = data->size();
    H5::DataSpace space(1, &n);
    auto ds = file.createDataSet(name + suffix, H5::PredType::NATIVE_INT64, space);
    if (n > 0) ds.write(data->data(), H5::PredType::NATIVE_INT64);
  }
}

void write_strings(H5::H5File& file, const std::string& name, const std::vector<std::string>& values) {
  H5::StrType type(H5::PredType::C_S1, H5T_VARIABLE);
  type.setCset(H5T_CSET_UTF8);
  const hsize_t n = values.size();
  H5::DataSpace space(1, &n);
  auto ds = file.createDataSet(name, type, space);
  std::vector<const char*> pointers;
  for (const auto& v : values) pointers.push_back(v.c_str());
  if (n > 0) ds.write(pointers.data(), type);
}

std::vector<int64_t> read_int64(H5::H5File& file, const std::string& name) {
  auto ds = file.openDataSet(name);
  hsize_t n = 0;
  ds.getSpace().getSimpleExtentDims(&n);
  std::vector<int64_t> out(n);
  if (n > 0) ds.read(out.data(), H5::PredType::NATIVE_INT64);
  return out;
}

// Row i of a ragged array as ids.
std::vector<std::vector<int64_t>> read_ragged(H5::H5File& file, const std::string& name, size_t rows,
                                              const std::string& path) {
  const auto flat = read_int64(file, name + "_ids");
  const auto offsets = read_int64(file, name + "_offsets");
  TORCH_CHECK(offsets.size() == rows + 1 && offsets.front() == 0 &&
                  offsets.back() == static_cast<int64_t>(flat.size()),
              path, ": ", name, "_offsets does not describe ", rows, " rows of ", name, "_ids");
  std::vector<std::vector<int64_t>> out(rows);
  for (size_t i = 0; i < rows; ++i) {
    TORCH_CHECK(offsets[i] <= offsets[i + 1], path, ": ", name, "_offsets decreases at row ", i);
    out[i].assign(flat.begin() + offsets[i], flat.begin() + offsets[i + 1]);
  }
  return out;
}

std::vector<std::string> read_strings(H5::H5File& file, const std::string& name) {
  auto ds = file.openDataSet(name);
  hsize_t n = 0;
  ds.getSpace().getSimpleExtentDims(&n);
  H5::StrType type(H5::PredType::C_S1, H5T_VARIABLE);
  type.setCset(H5T_CSET_UTF8);
  std::vector<char*> raw(n, nullptr);
  if (n > 0) ds.read(raw.data(), type);
  std::vector<std::string> out;
  for (char* s : raw) out.emplace_back(s ? s : "");
  if (n > 0) H5::DataSet::vlenReclaim(raw.data(), type, ds.getSpace());
  return out;
}

}  // namespace

void write_prompt_store(const PromptDataset& dataset, const std::string& path) {
  // HDF5 writes the file by name: into the atomic writer's temporary, which
  // commit() then fsyncs and renames (an exception removes it).
  AtomicFileWriter out(path);
  try {
    H5::Exception::dontPrint();
    {
      H5::H5File file(out.temp_path(), H5F_ACC_TRUNC);
      const auto& prompts = dataset.prompts();
      std::vector<const std::vector<int64_t>*> ids, teacher, response;
      std::vector<std::string> answer, solution, domain;
      std::vector<int64_t> line;
      for (const auto& p : prompts) {
        ids.push_back(&p.ids);
        teacher.push_back(&p.teacher_ids);
        response.push_back(&p.response_ids);
        answer.push_back(p.answer);
        solution.push_back(p.solution);
        domain.push_back(p.domain);
        line.push_back(p.line);
      }
      write_ragged(file, "prompt", ids);
      write_ragged(file, "teacher_prompt", teacher);
      write_ragged(file, "response", response);
      write_strings(file, "answer", answer);
      write_strings(file, "solution", solution);
      write_strings(file, "domain", domain);
      const hsize_t n = line.size();
      H5::DataSpace space(1, &n);
      auto lines = file.createDataSet("line", H5::PredType::NATIVE_INT64, space);
      if (n > 0) lines.write(line.data(), H5::PredType::NATIVE_INT64);
      H5::StrType type(H5::PredType::C_S1, std::string(kFormat).size());
      file.createAttribute("format", type, H5::DataSpace(H5S_SCALAR)).write(type, std::string(kFormat));
      if (!dataset.made_with().empty()) {
        H5::StrType record(H5::PredType::C_S1, dataset.made_with().size());
        file.createAttribute("made_with", record, H5::DataSpace(H5S_SCALAR)).write(record, dataset.made_with());
      }
    }
  } catch (const H5::Exception& e) {
    TORCH_CHECK(false, path, ": cannot write the prompt store (", e.getDetailMsg(), ")");
  }
  out.commit();
}

PromptDataset read_prompt_store(const std::string& path) {
  TORCH_CHECK(std::filesystem::is_regular_file(path), "prompt file '", path, "' cannot be opened");
  std::string current = "the file";
  try {
    H5::Exception::dontPrint();
    H5::H5File file(path, H5F_ACC_RDONLY);
    current = "attribute 'format'";
    auto attr = file.openAttribute("format");
    std::string format;
    attr.read(attr.getStrType(), format);
    TORCH_CHECK(format == kFormat, path, ": format '", format, "' is not ", kFormat, " (write it with opd-prepare)");
    std::string made_with;
    if (file.attrExists("made_with")) {
      current = "attribute 'made_with'";
      auto record = file.openAttribute("made_with");
      record.read(record.getStrType(), made_with);
    }
    current = "line";
    const auto line = read_int64(file, "line");
    const size_t n = line.size();
    current = "prompt_ids";
    auto ids = read_ragged(file, "prompt", n, path);
    current = "teacher_prompt_ids";
    auto teacher = read_ragged(file, "teacher_prompt", n, path);
    current = "response_ids";
    auto response = read_ragged(file, "response", n, path);
    current = "answer";
    auto answer = read_strings(file, "answer");
    current = "solution";
    auto solution = read_strings(file, "solution");
    current = "domain";
    auto domain = read_strings(file, "domain");
    TORCH_CHECK(answer.size() == n && solution.size() == n && domain.size() == n, path,
                ": answer, solution and domain must have one entry per prompt (", n, ")");
    std::vector<Prompt> prompts(n);
    for (size_t i = 0; i < n; ++i) {
      TORCH_CHECK(!ids[i].empty(), path, ": prompt ", i, " (line ", line[i], ") has no ids");
      prompts[i].ids = std::move(ids[i]);
      prompts[i].teacher_ids = std::move(teacher[i]);
      prompts[i].response_ids = std::move(response[i]);
      prompts[i].answer = std::move(answer[i]);
      prompts[i].solution = std::move(solution[i]);
      prompts[i].domain = std::move(domain[i]);
      prompts[i].line = line[i];
    }
    TORCH_CHECK(!prompts.empty(), "prompt file '", path, "' holds no prompts");
    auto dataset = PromptDataset::from_prompts(std::move(prompts), path);
    dataset.set_made_with(std::move(made_with));
    return dataset;
  } catch (const H5::Exception& e) {
    TORCH_CHECK(false, path, ": not a readable prompt store (", current, ": ", e.getDetailMsg(), ")");
  }
}

}  // namespace opd::data
