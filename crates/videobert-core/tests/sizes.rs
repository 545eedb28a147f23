//! Model sizes known from the config: the parameter count is exact, and a model (or batch) that
//! cannot fit in memory is a coded error before anything is allocated — never an allocator abort.

mod common;

use common::{random_batch, tmpdir};
use videobert_core::size::{check_fits, parameter_count};
use videobert_core::{ClassifierPooling, CreateOptions, DType, Error, Session, StepOptions, VideoBertConfig, VideoInput, VideoLoss};

#[test]
fn the_parameter_count_is_exact_for_every_head_and_input() {
    let tiny = VideoBertConfig::tiny();
    let configs = [
        tiny.clone(),
        VideoBertConfig { num_regions: 0, ..tiny.clone() },
        VideoBertConfig { video_input: VideoInput::VisualWords, video_loss: VideoLoss::Ce, num_visual_words: 37, ..tiny.clone() },
        VideoBertConfig { video_input: VideoInput::VisualWords, num_regions: 0, num_visual_words: 19, video_loss: VideoLoss::Nce, ..tiny.clone() },
        VideoBertConfig { num_labels: 5, classifier_pooling: ClassifierPooling::Segments, ..tiny.clone() },
        VideoBertConfig { decoder_layers: 3, ..tiny.clone() },
        VideoBertConfig { num_hidden_layers: 3, intermediate_size: 100, max_text_len: 7, max_segments: 5, feature_dim: 9, ..tiny.clone() },
    ];
    for c in configs {
        let vb = Session::new(c.clone(), CreateOptions::default()).unwrap();
        assert_eq!(parameter_count(&c), vb.num_parameters() as u128, "{c:?}");
    }
    for preset in ["small", "base"] {
        let c = VideoBertConfig::preset(preset).unwrap();
        assert_eq!(parameter_count(&c), Session::new(c, CreateOptions::default()).unwrap().num_parameters() as u128, "{preset}");
    }
}

fn config_field(r: Result<Session, Error>) -> (String, String) {
    match r {
        Err(Error::Config { field, reason }) => (field, reason),
        Err(other) => panic!("expected a Config error, got {other:?}"),
        Ok(_) => panic!("expected a Config error, got a model"),
    }
}

/// What issue 16 found killing the process (`memory allocation of 4398046511104 bytes failed`):
/// now `Config` errors naming the field, from `new` and from a checkpoint's `config.json`.
#[test]
fn a_model_too_large_for_the_machine_is_a_config_error() {
    let huge = [
        VideoBertConfig { hidden_size: 1 << 20, ..VideoBertConfig::small() },
        VideoBertConfig { hidden_size: 65536, intermediate_size: 1 << 20, ..VideoBertConfig::small() },
    ];
    for (c, field) in huge.iter().zip(["hidden_size", "hidden_size"]) {
        let (f, reason) = config_field(Session::new(c.clone(), CreateOptions::default()));
        assert_eq!(f, field);
        assert!(reason.contains("more than the memory limit"), "{reason}");
    }
    let dir = tmpdir("huge-config");
    Session::new(VideoBertConfig::tiny(), CreateOptions::default()).unwrap().save(&dir).unwrap();
    let json = VideoBertConfig { hidden_size: 1 << 20, ..VideoBertConfig::tiny() }.to_json();
    std::fs::write(dir.join("config.json"), json).unwrap();
    let (f, _) = config_field(Session::load(&dir, CreateOptions::default()));
    assert_eq!(f, "hidden_size");
    // The limit is explicit in the check; the model of a preset fits a 24 GiB machine, not 1 MiB.
    assert!(check_fits(&VideoBertConfig::base(), 4, 24 << 30).is_ok());
    assert!(matches!(check_fits(&VideoBertConfig::tiny(), 4, 1 << 20), Err(Error::Config { .. })));
}

#[test]
fn a_batch_too_large_for_the_machine_is_an_input_error() {
    // 2^22 samples (~100 KB of activations each, ~420 GiB) of an otherwise tiny batch: the check
    // fires on the batch size before any tensor is made.
    let cfg = VideoBertConfig { max_text_len: 4, max_segments: 2, num_regions: 0, feature_dim: 2, ..VideoBertConfig::tiny() };
    let mut vb = Session::new(cfg.clone(), CreateOptions { dtype: DType::F32, ..Default::default() }).unwrap();
    let small = random_batch(&cfg, 2, 1);
    vb.train_step(std::slice::from_ref(&small), StepOptions::default()).unwrap();
    let b = 1 << 22;
    let big = videobert_core::Batch {
        batch_size: b,
        text_ids: vec![5; b * cfg.max_text_len],
        video_features: Some(vec![0.5; b * cfg.max_segments * cfg.feature_dim]),
        ..Default::default()
    };
    match vb.train_step(std::slice::from_ref(&big), StepOptions::default()) {
        Err(Error::InvalidInput { field, reason }) => assert!(field == "batchSize" && reason.contains("micro-batches"), "{reason}"),
        other => panic!("expected an InvalidInput error, got {other:?}"),
    }
}
