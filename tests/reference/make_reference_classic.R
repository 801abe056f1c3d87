# The classic data sets of notebook 00 and metafor's values for them.
#
# Run from the repository root:   Rscript tests/reference/make_reference_classic.R
# Needs R with metafor (3.8.1), metadat and jsonlite. Writes, and both are committed, so neither the
# notebook nor the tests need R:
#   data/classic/molloy2014.csv, normand1999.csv, bcg.csv,
#   konstantopoulos2011.csv                                  the data sets, exported from metadat
#   data/classic/metafor_values.json                         metafor's results on them
#
# tests/reference/metafor_reference.json (make_reference.R) holds fits of these data, but not the
# raw study columns, the study labels or the weights that notebook 00 sets beside ours; this script
# writes everything the notebook shows in one file. Iterations run to convergence (1e-13).
#
# One source of truth. metafor's optimisers stop short of the optimum for selmodel() and rma.mv()
# (relative 1e-7 to 1e-5); make_reference_selection.R and make_reference_dependence.R take those fits
# to the optimum, and make_reference_influence.R computes influence() and baujat(). Their entries for
# Molloy 2014 and Konstantopoulos 2011 are copied here unchanged from the committed JSON files (run
# those scripts first if they change), after a check that they were computed from the same data.

suppressMessages({
  library(metafor)
  library(metadat)
  library(jsonlite)
})

ctrl <- list(threshold = 1e-13, tol = 1e-13, maxiter = 10000)
out_dir <- "data/classic"

fit_fields <- function(res) {
  pred <- predict(res)
  list(k = res$k, estimate = c(res$beta), se = res$se, ci_low = res$ci.lb, ci_high = res$ci.ub,
       pval = res$pval, tau2 = res$tau2, i2 = res$I2, h2 = res$H2, q = res$QE, q_df = res$k - res$p,
       q_p = res$QEp,
       pi_low = if (is.null(pred$pi.lb)) pred$ci.lb else pred$pi.lb,
       pi_high = if (is.null(pred$pi.ub)) pred$ci.ub else pred$pi.ub,
       weights = unname(weights(res)))
}

fits <- function(yi, vi) {
  out <- list()
  for (mt in c("FE_z", "DL_z", "DL_knha", "REML_z", "REML_knha")) {
    m_t <- strsplit(mt, "_")[[1]]
    out[[mt]] <- fit_fields(rma(yi, vi, method = m_t[1], test = m_t[2], control = ctrl))
  }
  out
}

extras <- function(yi, vi, labels) {
  res <- rma(yi, vi, method = "REML", control = ctrl)
  ci <- confint(res, control = list(tol = 1e-13, maxiter = 10000))$random
  l <- leave1out(res)
  out <- list(qprofile = list(tau2_low = ci["tau^2", "ci.lb"], tau2_high = ci["tau^2", "ci.ub"],
                              i2_low = ci["I^2(%)", "ci.lb"], i2_high = ci["I^2(%)", "ci.ub"]),
              leave1out = list(left_out = labels, estimate = l$estimate, se = l$se, pval = l$pval,
                               ci_low = l$ci.lb, ci_high = l$ci.ub, q = l$Q, tau2 = l$tau2, i2 = l$I2))
  if (length(yi) >= 10) {
    eg <- regtest(res, model = "rma", predictor = "sei")
    tf <- trimfill(res, control = ctrl)
    out$egger <- list(stat = eg$zval, pval = eg$pval, limit_estimate = c(eg$est))
    out$trimfill <- list(k0 = tf$k0, side = tf$side, estimate = c(tf$beta), ci_low = tf$ci.lb,
                         ci_high = tf$ci.ub, tau2 = tf$tau2)
  }
  out
}

# 1. Correlations: conscientiousness and medication adherence (Molloy et al. 2014)
mol <- dat.molloy2014
mol$study <- paste(mol$authors, mol$year)
write.csv(mol[, c("study", "authors", "year", "ni", "ri", "controls", "design", "a_measure",
                  "c_measure", "meanage", "quality")], file.path(out_dir, "molloy2014.csv"), row.names = FALSE)
mz <- escalc("ZCOR", ri = ri, ni = ni, data = mol)

# 2. Standardised mean differences: length of hospital stay, specialist vs routine care (Normand 1999)
nd <- dat.normand1999
write.csv(nd, file.path(out_dir, "normand1999.csv"), row.names = FALSE)
ng <- escalc("SMD", m1i = m1i, sd1i = sd1i, n1i = n1i, m2i = m2i, sd2i = sd2i, n2i = n2i, data = nd)

# 3. Log risk ratios and a moderator: BCG vaccine trials (Colditz et al. 1994)
bcg <- dat.bcg
bcg$study <- paste(bcg$author, bcg$year)
write.csv(bcg[, c("trial", "study", "author", "year", "tpos", "tneg", "cpos", "cneg", "ablat", "alloc")],
          file.path(out_dir, "bcg.csv"), row.names = FALSE)
br <- escalc("RR", ai = tpos, bi = tneg, ci = cpos, di = cneg, data = bcg)
reg <- rma(yi, vi, mods = ~ ablat, data = br, method = "REML", control = ctrl)

values <- list(
  metafor_version = as.character(packageVersion("metafor")),
  metadat_version = as.character(packageVersion("metadat")),
  molloy2014 = c(list(yi = c(mz$yi), vi = c(mz$vi), fits = fits(mz$yi, mz$vi)),
                 extras(mz$yi, mz$vi, mol$study)),
  normand1999 = c(list(yi = c(ng$yi), vi = c(ng$vi), fits = fits(ng$yi, ng$vi)),
                  extras(ng$yi, ng$vi, nd$source)),
  bcg = c(list(yi = c(br$yi), vi = c(br$vi), fits = fits(br$yi, br$vi)),
          extras(br$yi, br$vi, bcg$study),
          list(metareg = list(names = c("intrcpt", "ablat"), estimate = c(reg$beta), se = reg$se,
                              pval = reg$pval, ci_low = reg$ci.lb, ci_high = reg$ci.ub, tau2 = reg$tau2,
                              i2 = reg$I2, r2 = reg$R2, qm = reg$QM, qm_p = reg$QMp, qe = reg$QE,
                              qe_p = reg$QEp)))
)

# 4. Methods beyond the basics for Molloy 2014 (k = 16): influence(), baujat(), gosh(), PET-PEESE and
# the three-parameter selection model, copied from the engine's reference files
from_json <- function(name) fromJSON(file.path("tests/reference", name), simplifyVector = FALSE)
same_data <- function(entry, yi, vi, what) {
  stopifnot(isTRUE(all.equal(unlist(entry$yi), c(yi), tolerance = 1e-14)),
            isTRUE(all.equal(unlist(entry$vi), c(vi), tolerance = 1e-14)))
  invisible(what)
}
infl <- from_json("influence_reference.json")
sel <- from_json("selection_reference.json")
dep <- from_json("dependence_reference.json")
same_data(infl$molloy, mz$yi, mz$vi, "influence")
same_data(sel$data$molloy, mz$yi, mz$vi, "selection")
three_par <- Filter(function(s) s$data == "molloy" && identical(s$steps, 0.025) && s$method == "ML", sel$selmodel)
stopifnot(length(three_par) == 1)

# GOSH over all 2^16 - 1 = 65,535 subsets under the common-effect model (closed form, so exact). The
# cloud is summarised by its extremes and means, and per study by the mean estimate and I2 of the
# subsets that contain it (each mean is a sum over 32,768 fits, so it checks every one of them).
g <- gosh(rma(yi, vi, data = mz, method = "FE", control = ctrl), progbar = FALSE)
gosh_values <- list(method = "FE", n_subsets = nrow(g$res),
                    estimate_mean = mean(g$res$estimate), estimate_min = min(g$res$estimate),
                    estimate_max = max(g$res$estimate), i2_mean = mean(g$res$I2), i2_max = max(g$res$I2),
                    study = mol$study,
                    estimate_with = unname(colMeans(g$incl * g$res$estimate) / colMeans(g$incl)),
                    i2_with = unname(colMeans(g$incl * g$res$I2) / colMeans(g$incl)),
                    i2_without = unname(colMeans((1 - g$incl) * g$res$I2) / colMeans(1 - g$incl)))

values$molloy2014$influence <- infl$molloy$influence$REML
values$molloy2014$baujat <- infl$molloy$baujat$FE
values$molloy2014$gosh <- gosh_values
values$molloy2014$pet_peese <- sel$petpeese$molloy$sei$lm
values$molloy2014$selmodel <- three_par[[1]]

# 5. Several effects per study: schools within districts (Konstantopoulos 2011), 56 effects in 11
# districts. aggregate(), the three-level model and the CHE model (rho = 0.6) with clubSandwich's CR2
# test (metafor's robust(clubSandwich = TRUE) gives the same) come from dependence_reference.json; the
# REML fit of the averaged effects is computed here.
ko <- dat.konstantopoulos2011
write.csv(as.data.frame(ko)[, c("district", "school", "study", "year", "yi", "vi")],
          file.path(out_dir, "konstantopoulos2011.csv"), row.names = FALSE)
kd <- dep$konstantopoulos
same_data(kd, ko$yi, ko$vi, "dependence")
stopifnot(identical(unlist(kd$study), as.character(ko$district)), kd$rho == 0.6,
          kd$aggregate[[1]]$rho == 0.6)
agg <- kd$aggregate[[1]]
agg_fit <- fit_fields(rma(unlist(agg$yi), unlist(agg$vi), method = "REML", control = ctrl))
values$konstantopoulos2011 <- list(rho = kd$rho, aggregate = agg, aggregate_fit = agg_fit,
                                   three_level = kd$reml_z, che = kd$che_reml_z)
values$clubSandwich_version <- dep$clubSandwich_version

write_json(values, file.path(out_dir, "metafor_values.json"), digits = NA, auto_unbox = TRUE, pretty = TRUE,
           null = "null", na = "null")
cat("wrote", out_dir, "(4 data sets and metafor_values.json) with metafor", values$metafor_version, "\n")
