"""Typed attributes of every column of a layer row, for type checkers and IDEs: ``layer.alpha`` is a ``float``.

Generated from the column groups of :mod:`netspectra.diagnose.row` (:data:`~netspectra.diagnose.row.GROUP_PATHS`)
by ``python tests/diagnose/test_row_attributes.py``; do not edit.  That test fails when this file and the groups
differ.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from netspectra.diagnose.row import (
        DepthColumns,
        LayerIdentity,
        MPColumns,
        NormColumns,
        OutcomeColumns,
        PlacementColumns,
        PowerLawColumns,
        QuantizationColumns,
        VectorColumns,
        WWColumns,
        WWFitColumns,
    )


class RowAttributes:
    """Mixin of :class:`~netspectra.diagnose.row.LayerReport`: each field of its column groups as a read-only attribute."""

    identity: LayerIdentity
    placement: PlacementColumns
    norms: NormColumns
    mp: MPColumns
    quantization: QuantizationColumns
    power_law: PowerLawColumns
    ww: WWColumns
    ww_fits: WWFitColumns
    vectors: VectorColumns
    depth: DepthColumns
    outcome: OutcomeColumns

    @property
    def name(self) -> str:
        """The ``name`` field of :class:`~netspectra.diagnose.row.LayerIdentity`."""
        return self.identity.name

    @property
    def layer_index(self) -> int:
        """The ``layer_index`` field of :class:`~netspectra.diagnose.row.LayerIdentity`."""
        return self.identity.layer_index

    @property
    def kind(self) -> str:
        """The ``kind`` field of :class:`~netspectra.diagnose.row.LayerIdentity`."""
        return self.identity.kind

    @property
    def N(self) -> int:
        """The ``N`` field of :class:`~netspectra.diagnose.row.LayerIdentity`."""
        return self.identity.N

    @property
    def M(self) -> int:
        """The ``M`` field of :class:`~netspectra.diagnose.row.LayerIdentity`."""
        return self.identity.M

    @property
    def Q(self) -> float:
        """The ``Q`` field of :class:`~netspectra.diagnose.row.LayerIdentity`."""
        return self.identity.Q

    @property
    def num_matrices(self) -> int:
        """The ``num_matrices`` field of :class:`~netspectra.diagnose.row.LayerIdentity`."""
        return self.identity.num_matrices

    @property
    def num_evals(self) -> int:
        """The ``num_evals`` field of :class:`~netspectra.diagnose.row.LayerIdentity`."""
        return self.identity.num_evals

    @property
    def role(self) -> str:
        """The ``role`` field of :class:`~netspectra.diagnose.row.PlacementColumns`."""
        return self.placement.role

    @property
    def stack(self) -> str:
        """The ``stack`` field of :class:`~netspectra.diagnose.row.PlacementColumns`."""
        return self.placement.stack

    @property
    def block(self) -> int:
        """The ``block`` field of :class:`~netspectra.diagnose.row.PlacementColumns`."""
        return self.placement.block

    @property
    def expert(self) -> int:
        """The ``expert`` field of :class:`~netspectra.diagnose.row.PlacementColumns`."""
        return self.placement.expert

    @property
    def lambda_max(self) -> float:
        """The ``lambda_max`` field of :class:`~netspectra.diagnose.row.NormColumns`."""
        return self.norms.lambda_max

    @property
    def spectral_norm(self) -> float:
        """The ``spectral_norm`` field of :class:`~netspectra.diagnose.row.NormColumns`."""
        return self.norms.spectral_norm

    @property
    def log_spectral_norm(self) -> float:
        """The ``log_spectral_norm`` field of :class:`~netspectra.diagnose.row.NormColumns`."""
        return self.norms.log_spectral_norm

    @property
    def frobenius_norm(self) -> float:
        """The ``frobenius_norm`` field of :class:`~netspectra.diagnose.row.NormColumns`."""
        return self.norms.frobenius_norm

    @property
    def log_frobenius_norm(self) -> float:
        """The ``log_frobenius_norm`` field of :class:`~netspectra.diagnose.row.NormColumns`."""
        return self.norms.log_frobenius_norm

    @property
    def stable_rank(self) -> float:
        """The ``stable_rank`` field of :class:`~netspectra.diagnose.row.NormColumns`."""
        return self.norms.stable_rank

    @property
    def effective_rank(self) -> float:
        """The ``effective_rank`` field of :class:`~netspectra.diagnose.row.NormColumns`."""
        return self.norms.effective_rank

    @property
    def entropy(self) -> float:
        """The ``entropy`` field of :class:`~netspectra.diagnose.row.NormColumns`."""
        return self.norms.entropy

    @property
    def rank_loss(self) -> int:
        """The ``rank_loss`` field of :class:`~netspectra.diagnose.row.NormColumns`."""
        return self.norms.rank_loss

    @property
    def log_det(self) -> float:
        """The ``log_det`` field of :class:`~netspectra.diagnose.row.NormColumns`."""
        return self.norms.log_det

    @property
    def log_det_error(self) -> float:
        """The ``log_det_error`` field of :class:`~netspectra.diagnose.row.NormColumns`."""
        return self.norms.log_det_error

    @property
    def sigma2_mp(self) -> float:
        """The ``sigma2_mp`` field of :class:`~netspectra.diagnose.row.MPColumns`."""
        return self.mp.sigma2_mp

    @property
    def lambda_plus(self) -> float:
        """The ``lambda_plus`` field of :class:`~netspectra.diagnose.row.MPColumns`."""
        return self.mp.lambda_plus

    @property
    def lambda_plus_tw(self) -> float:
        """The ``lambda_plus_tw`` field of :class:`~netspectra.diagnose.row.MPColumns`."""
        return self.mp.lambda_plus_tw

    @property
    def num_spikes(self) -> int | None:
        """The ``num_spikes`` field of :class:`~netspectra.diagnose.row.MPColumns`."""
        return self.mp.num_spikes

    @property
    def bulk_fraction(self) -> float:
        """The ``bulk_fraction`` field of :class:`~netspectra.diagnose.row.MPColumns`."""
        return self.mp.bulk_fraction

    @property
    def sigma2_quant(self) -> float:
        """The ``sigma2_quant`` field of :class:`~netspectra.diagnose.row.QuantizationColumns`."""
        return self.quantization.sigma2_quant

    @property
    def quant_share(self) -> float:
        """The ``quant_share`` field of :class:`~netspectra.diagnose.row.QuantizationColumns`."""
        return self.quantization.quant_share

    @property
    def alpha(self) -> float:
        """The ``alpha`` field of :class:`~netspectra.diagnose.row.PowerLawColumns`."""
        return self.power_law.alpha

    @property
    def alpha_se(self) -> float:
        """The ``alpha_se`` field of :class:`~netspectra.diagnose.row.PowerLawColumns`."""
        return self.power_law.alpha_se

    @property
    def alpha_lo(self) -> float:
        """The ``alpha_lo`` field of :class:`~netspectra.diagnose.row.PowerLawColumns`."""
        return self.power_law.alpha_lo

    @property
    def alpha_hi(self) -> float:
        """The ``alpha_hi`` field of :class:`~netspectra.diagnose.row.PowerLawColumns`."""
        return self.power_law.alpha_hi

    @property
    def xmin(self) -> float:
        """The ``xmin`` field of :class:`~netspectra.diagnose.row.PowerLawColumns`."""
        return self.power_law.xmin

    @property
    def xmax(self) -> float:
        """The ``xmax`` field of :class:`~netspectra.diagnose.row.PowerLawColumns`."""
        return self.power_law.xmax

    @property
    def ks_distance(self) -> float:
        """The ``ks_distance`` field of :class:`~netspectra.diagnose.row.PowerLawColumns`."""
        return self.power_law.ks_distance

    @property
    def num_tail(self) -> int:
        """The ``num_tail`` field of :class:`~netspectra.diagnose.row.PowerLawColumns`."""
        return self.power_law.num_tail

    @property
    def detx_num(self) -> int:
        """The ``detx_num`` field of :class:`~netspectra.diagnose.row.PowerLawColumns`."""
        return self.power_law.detx_num

    @property
    def detx_val(self) -> float:
        """The ``detx_val`` field of :class:`~netspectra.diagnose.row.PowerLawColumns`."""
        return self.power_law.detx_val

    @property
    def alpha_weighted(self) -> float:
        """The ``alpha_weighted`` field of :class:`~netspectra.diagnose.row.WWColumns`."""
        return self.ww.alpha_weighted

    @property
    def lambda_max_ww(self) -> float:
        """The ``lambda_max_ww`` field of :class:`~netspectra.diagnose.row.WWColumns`."""
        return self.ww.lambda_max_ww

    @property
    def log_spectral_norm_ww(self) -> float:
        """The ``log_spectral_norm_ww`` field of :class:`~netspectra.diagnose.row.WWColumns`."""
        return self.ww.log_spectral_norm_ww

    @property
    def log_norm_ww(self) -> float:
        """The ``log_norm_ww`` field of :class:`~netspectra.diagnose.row.WWColumns`."""
        return self.ww.log_norm_ww

    @property
    def log_alpha_norm(self) -> float:
        """The ``log_alpha_norm`` field of :class:`~netspectra.diagnose.row.WWColumns`."""
        return self.ww.log_alpha_norm

    @property
    def alpha_ww(self) -> float:
        """The ``alpha_ww`` field of :class:`~netspectra.diagnose.row.WWFitColumns`."""
        return self.ww_fits.alpha_ww

    @property
    def xmin_ww(self) -> float:
        """The ``xmin_ww`` field of :class:`~netspectra.diagnose.row.WWFitColumns`."""
        return self.ww_fits.xmin_ww

    @property
    def num_tail_ww(self) -> int:
        """The ``num_tail_ww`` field of :class:`~netspectra.diagnose.row.WWFitColumns`."""
        return self.ww_fits.num_tail_ww

    @property
    def num_fingers(self) -> int:
        """The ``num_fingers`` field of :class:`~netspectra.diagnose.row.WWFitColumns`."""
        return self.ww_fits.num_fingers

    @property
    def raw_alpha(self) -> float:
        """The ``raw_alpha`` field of :class:`~netspectra.diagnose.row.WWFitColumns`."""
        return self.ww_fits.raw_alpha

    @property
    def alpha_tpl(self) -> float:
        """The ``alpha_tpl`` field of :class:`~netspectra.diagnose.row.WWFitColumns`."""
        return self.ww_fits.alpha_tpl

    @property
    def lambda_tpl(self) -> float:
        """The ``lambda_tpl`` field of :class:`~netspectra.diagnose.row.WWFitColumns`."""
        return self.ww_fits.lambda_tpl

    @property
    def xmin_tpl(self) -> float:
        """The ``xmin_tpl`` field of :class:`~netspectra.diagnose.row.WWFitColumns`."""
        return self.ww_fits.xmin_tpl

    @property
    def ks_distance_tpl(self) -> float:
        """The ``ks_distance_tpl`` field of :class:`~netspectra.diagnose.row.WWFitColumns`."""
        return self.ww_fits.ks_distance_tpl

    @property
    def num_tail_tpl(self) -> int:
        """The ``num_tail_tpl`` field of :class:`~netspectra.diagnose.row.WWFitColumns`."""
        return self.ww_fits.num_tail_tpl

    @property
    def bulk_mean_vec_entropy(self) -> float:
        """The ``bulk_mean_vec_entropy`` field of :class:`~netspectra.diagnose.row.VectorColumns`."""
        return self.vectors.bulk_mean_vec_entropy

    @property
    def bulk_var_vec_entropy(self) -> float:
        """The ``bulk_var_vec_entropy`` field of :class:`~netspectra.diagnose.row.VectorColumns`."""
        return self.vectors.bulk_var_vec_entropy

    @property
    def tail_mean_vec_entropy(self) -> float:
        """The ``tail_mean_vec_entropy`` field of :class:`~netspectra.diagnose.row.VectorColumns`."""
        return self.vectors.tail_mean_vec_entropy

    @property
    def tail_var_vec_entropy(self) -> float:
        """The ``tail_var_vec_entropy`` field of :class:`~netspectra.diagnose.row.VectorColumns`."""
        return self.vectors.tail_var_vec_entropy

    @property
    def bulk_mean_loc_ratio(self) -> float:
        """The ``bulk_mean_loc_ratio`` field of :class:`~netspectra.diagnose.row.VectorColumns`."""
        return self.vectors.bulk_mean_loc_ratio

    @property
    def bulk_var_loc_ratio(self) -> float:
        """The ``bulk_var_loc_ratio`` field of :class:`~netspectra.diagnose.row.VectorColumns`."""
        return self.vectors.bulk_var_loc_ratio

    @property
    def tail_mean_loc_ratio(self) -> float:
        """The ``tail_mean_loc_ratio`` field of :class:`~netspectra.diagnose.row.VectorColumns`."""
        return self.vectors.tail_mean_loc_ratio

    @property
    def tail_var_loc_ratio(self) -> float:
        """The ``tail_var_loc_ratio`` field of :class:`~netspectra.diagnose.row.VectorColumns`."""
        return self.vectors.tail_var_loc_ratio

    @property
    def bulk_mean_part_ratio(self) -> float:
        """The ``bulk_mean_part_ratio`` field of :class:`~netspectra.diagnose.row.VectorColumns`."""
        return self.vectors.bulk_mean_part_ratio

    @property
    def bulk_var_part_ratio(self) -> float:
        """The ``bulk_var_part_ratio`` field of :class:`~netspectra.diagnose.row.VectorColumns`."""
        return self.vectors.bulk_var_part_ratio

    @property
    def tail_mean_part_ratio(self) -> float:
        """The ``tail_mean_part_ratio`` field of :class:`~netspectra.diagnose.row.VectorColumns`."""
        return self.vectors.tail_mean_part_ratio

    @property
    def tail_var_part_ratio(self) -> float:
        """The ``tail_var_part_ratio`` field of :class:`~netspectra.diagnose.row.VectorColumns`."""
        return self.vectors.tail_var_part_ratio

    @property
    def phase(self) -> str:
        """The ``phase`` field of :class:`~netspectra.diagnose.row.PhaseColumns`."""
        return self.depth.phase_columns.phase

    @property
    def phase_reason(self) -> str:
        """The ``phase_reason`` field of :class:`~netspectra.diagnose.row.PhaseColumns`."""
        return self.depth.phase_columns.phase_reason

    @property
    def mp_width(self) -> float:
        """The ``mp_width`` field of :class:`~netspectra.diagnose.row.BulkColumns`."""
        return self.depth.bulk.mp_width

    @property
    def mp_area(self) -> float:
        """The ``mp_area`` field of :class:`~netspectra.diagnose.row.BulkColumns`."""
        return self.depth.bulk.mp_area

    @property
    def tail_weight(self) -> float:
        """The ``tail_weight`` field of :class:`~netspectra.diagnose.row.BulkColumns`."""
        return self.depth.bulk.tail_weight

    @property
    def ks_bulk_mp(self) -> float:
        """The ``ks_bulk_mp`` field of :class:`~netspectra.diagnose.row.BulkColumns`."""
        return self.depth.bulk.ks_bulk_mp

    @property
    def p_bulk_mp(self) -> float:
        """The ``p_bulk_mp`` field of :class:`~netspectra.diagnose.row.BulkColumns`."""
        return self.depth.bulk.p_bulk_mp

    @property
    def spike_strength_max(self) -> float:
        """The ``spike_strength_max`` field of :class:`~netspectra.diagnose.row.SpikeColumns`."""
        return self.depth.spikes.spike_strength_max

    @property
    def spike_cos2_left_max(self) -> float:
        """The ``spike_cos2_left_max`` field of :class:`~netspectra.diagnose.row.SpikeColumns`."""
        return self.depth.spikes.spike_cos2_left_max

    @property
    def spike_cos2_right_max(self) -> float:
        """The ``spike_cos2_right_max`` field of :class:`~netspectra.diagnose.row.SpikeColumns`."""
        return self.depth.spikes.spike_cos2_right_max

    @property
    def spike_note(self) -> str:
        """The ``spike_note`` field of :class:`~netspectra.diagnose.row.SpikeColumns`."""
        return self.depth.spikes.spike_note

    @property
    def kappa_htmp(self) -> float:
        """The ``kappa_htmp`` field of :class:`~netspectra.diagnose.row.HTMPColumns`."""
        return self.depth.htmp.kappa_htmp

    @property
    def alpha_htmp(self) -> float:
        """The ``alpha_htmp`` field of :class:`~netspectra.diagnose.row.HTMPColumns`."""
        return self.depth.htmp.alpha_htmp

    @property
    def htmp_prefers_mp(self) -> bool | None:
        """The ``htmp_prefers_mp`` field of :class:`~netspectra.diagnose.row.HTMPColumns`."""
        return self.depth.htmp.htmp_prefers_mp

    @property
    def spacing_ratio(self) -> float:
        """The ``spacing_ratio`` field of :class:`~netspectra.diagnose.row.SpacingColumns`."""
        return self.depth.spacing.spacing_ratio

    @property
    def ks_goe(self) -> float:
        """The ``ks_goe`` field of :class:`~netspectra.diagnose.row.SpacingColumns`."""
        return self.depth.spacing.ks_goe

    @property
    def ks_poisson(self) -> float:
        """The ``ks_poisson`` field of :class:`~netspectra.diagnose.row.SpacingColumns`."""
        return self.depth.spacing.ks_poisson

    @property
    def spacing_unfolding(self) -> str:
        """The ``spacing_unfolding`` field of :class:`~netspectra.diagnose.row.SpacingColumns`."""
        return self.depth.spacing.spacing_unfolding

    @property
    def lr_exponential(self) -> float:
        """The ``lr_exponential`` field of :class:`~netspectra.diagnose.row.TailTestColumns`."""
        return self.depth.tail_tests.lr_exponential

    @property
    def p_exponential(self) -> float:
        """The ``p_exponential`` field of :class:`~netspectra.diagnose.row.TailTestColumns`."""
        return self.depth.tail_tests.p_exponential

    @property
    def lr_lognormal(self) -> float:
        """The ``lr_lognormal`` field of :class:`~netspectra.diagnose.row.TailTestColumns`."""
        return self.depth.tail_tests.lr_lognormal

    @property
    def p_lognormal(self) -> float:
        """The ``p_lognormal`` field of :class:`~netspectra.diagnose.row.TailTestColumns`."""
        return self.depth.tail_tests.p_lognormal

    @property
    def lr_truncated_pl(self) -> float:
        """The ``lr_truncated_pl`` field of :class:`~netspectra.diagnose.row.TailTestColumns`."""
        return self.depth.tail_tests.lr_truncated_pl

    @property
    def p_truncated_pl(self) -> float:
        """The ``p_truncated_pl`` field of :class:`~netspectra.diagnose.row.TailTestColumns`."""
        return self.depth.tail_tests.p_truncated_pl

    @property
    def shuffle_distance(self) -> float:
        """The ``shuffle_distance`` field of :class:`~netspectra.diagnose.row.ShuffleColumns`."""
        return self.depth.shuffle.shuffle_distance

    @property
    def shuffle_lambda_ratio(self) -> float:
        """The ``shuffle_lambda_ratio`` field of :class:`~netspectra.diagnose.row.ShuffleColumns`."""
        return self.depth.shuffle.shuffle_lambda_ratio

    @property
    def structure_index(self) -> float:
        """The ``structure_index`` field of :class:`~netspectra.diagnose.row.ShuffleColumns`."""
        return self.depth.shuffle.structure_index

    @property
    def large_entries(self) -> bool | None:
        """The ``large_entries`` field of :class:`~netspectra.diagnose.row.ShuffleColumns`."""
        return self.depth.shuffle.large_entries

    @property
    def dtype(self) -> str:
        """The ``dtype`` field of :class:`~netspectra.diagnose.row.OutcomeColumns`."""
        return self.outcome.dtype

    @property
    def status(self) -> str:
        """The ``status`` field of :class:`~netspectra.diagnose.row.OutcomeColumns`."""
        return self.outcome.status

    @property
    def warnings(self) -> tuple[str, ...]:
        """The ``warnings`` field of :class:`~netspectra.diagnose.row.OutcomeColumns`."""
        return self.outcome.warnings
