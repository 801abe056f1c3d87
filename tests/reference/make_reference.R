# Reference values from R metafor for the Python engine in src/helpers.py.
#
# Run from the repository root:   Rscript tests/reference/make_reference.R
# Needs (Debian): apt-get install r-cran-metafor r-cran-metadat r-cran-jsonlite
# Writes tests/reference/metafor_reference.json, which is committed: the tests never need R.
#
# Iterations are run to convergence (threshold/tol 1e-13), because metafor's defaults stop REML at
# a 1e-5 change and Paule-Mandel at uniroot's 1.2e-4 tolerance, which is not the optimum.

suppressMessages({
  library(metafor)
  library(jsonlite)
})

ctrl <- list(threshold = 1e-13, tol = 1e-13, maxiter = 10000)
methods <- c("FE", "DL", "HE", "SJ", "ML", "REML", "PM")
tests <- c("z", "knha")

fit_fields <- function(res) {
  pred <- predict(res)
  list(k = res$k, estimate = c(res$beta), se = res$se, ci_low = res$ci.lb, ci_high = res$ci.ub,
       stat = res$zval, pval = res$pval, tau2 = res$tau2, i2 = res$I2, h2 = res$H2,
       q = res$QE, q_df = res$k - res$p, q_p = res$QEp,
       # metafor gives no prediction interval for FE models; it equals the CI there (tau2 = 0)
       pi_low = if (is.null(pred$pi.lb)) pred$ci.lb else pred$pi.lb,
       pi_high = if (is.null(pred$pi.ub)) pred$ci.ub else pred$pi.ub)
}

fits <- function(yi, vi) {
  out <- list()
  for (m in methods) for (t in tests) {
    res <- suppressWarnings(rma(yi, vi, method = m, test = t, control = ctrl))
    out[[paste(m, t, sep = "_")]] <- fit_fields(res)
  }
  out
}

qprofile <- function(yi, vi, method = "REML") {
  res <- rma(yi, vi, method = method, control = ctrl)
  ci <- confint(res, control = list(tol = 1e-13, maxiter = 10000))$random
  list(method = method, tau2 = ci["tau^2", "estimate"], tau2_low = ci["tau^2", "ci.lb"],
       tau2_high = ci["tau^2", "ci.ub"], i2_low = ci["I^2(%)", "ci.lb"], i2_high = ci["I^2(%)", "ci.ub"],
       h2_low = ci["H^2", "ci.lb"], h2_high = ci["H^2", "ci.ub"])
}

loo <- function(yi, vi, method = "REML", test = "z") {
  res <- rma(yi, vi, method = method, test = test, control = ctrl)
  l <- leave1out(res)
  list(method = method, test = test, estimate = l$estimate, se = l$se,
       stat = if (is.null(l$zval)) l$tval else l$zval, pval = l$pval,
       ci_low = l$ci.lb, ci_high = l$ci.ub, q = l$Q, q_p = l$Qp, tau2 = l$tau2, i2 = l$I2, h2 = l$H2)
}

egger <- function(yi, vi, method = "REML") {
  res <- rma(yi, vi, method = method, control = ctrl)
  r1 <- regtest(res, model = "rma", predictor = "sei")
  r2 <- regtest(res, model = "lm", predictor = "sei")
  list(rma = list(stat = r1$zval, pval = r1$pval, limit_estimate = c(r1$est),
                  limit_ci_low = r1$ci.lb, limit_ci_high = r1$ci.ub),
       lm = list(stat = r2$zval, pval = r2$pval, df = r2$dfs, limit_estimate = c(r2$est),
                 limit_ci_low = r2$ci.lb, limit_ci_high = r2$ci.ub))
}

tf <- function(yi, vi, method = "REML") {
  res <- rma(yi, vi, method = method, control = ctrl)
  t <- trimfill(res, control = ctrl)
  list(method = method, k0 = t$k0, side = t$side, se_k0 = t$se.k0,
       fit = fit_fields(t), filled_yi = if (t$k0 > 0) t$yi[t$fill] else numeric(0))
}

metareg <- function(yi, vi, mods, method = "REML", test = "z") {
  res <- rma(yi, vi, mods = mods, method = method, test = test, control = ctrl)
  list(method = method, test = test, estimate = c(res$beta), se = res$se, stat = res$zval,
       pval = res$pval, ci_low = res$ci.lb, ci_high = res$ci.ub, tau2 = res$tau2, i2 = res$I2,
       h2 = res$H2, r2 = res$R2, qm = res$QM, qm_p = res$QMp, qe = res$QE, qe_p = res$QEp)
}

subgroups <- function(yi, vi, g, method = "REML") {
  g <- factor(g)
  common <- rma(yi, vi, mods = ~ g, method = method, control = ctrl)
  cells <- rma(yi, vi, mods = ~ g - 1, method = method, control = ctrl)
  sep <- lapply(levels(g), function(l) rma(yi[g == l], vi[g == l], method = method, control = ctrl))
  est <- sapply(sep, function(r) c(r$beta))
  se <- sapply(sep, function(r) r$se)
  between <- rma(est, sei = se, mods = ~ factor(levels(g)), method = "FE")
  list(method = method, levels = levels(g), group_estimate = est, group_se = se,
       group_tau2 = sapply(sep, function(r) r$tau2),
       q_between_separate = between$QM, q_between_separate_p = between$QMp,
       q_between_common = common$QM, q_between_common_p = common$QMp, tau2_common = common$tau2,
       common_estimate = c(cells$beta), common_se = cells$se)
}

ref <- list(metafor_version = as.character(packageVersion("metafor")))

# 1. Log risk ratios with a moderator: BCG vaccine trials (Colditz et al. 1994)
bcg <- escalc("RR", ai = tpos, bi = tneg, ci = cpos, di = cneg, data = dat.bcg)
ref$bcg <- list(yi = c(bcg$yi), vi = c(bcg$vi), ablat = bcg$ablat, alloc = as.character(bcg$alloc),
                fits = fits(bcg$yi, bcg$vi), qprofile = qprofile(bcg$yi, bcg$vi),
                qprofile_dl = qprofile(bcg$yi, bcg$vi, "DL"),
                leave1out = loo(bcg$yi, bcg$vi), leave1out_knha = loo(bcg$yi, bcg$vi, "DL", "knha"),
                egger = egger(bcg$yi, bcg$vi), trimfill = tf(bcg$yi, bcg$vi),
                metareg = metareg(bcg$yi, bcg$vi, bcg$ablat),
                metareg_knha = metareg(bcg$yi, bcg$vi, cbind(bcg$ablat, bcg$year), test = "knha"),
                subgroups = subgroups(bcg$yi, bcg$vi, bcg$alloc))

# 2. Standardised mean differences from raw means (Normand 1999)
nd <- dat.normand1999
smd <- escalc("SMD", m1i = m1i, sd1i = sd1i, n1i = n1i, m2i = m2i, sd2i = sd2i, n2i = n2i, data = nd)
ref$normand <- list(m1 = nd$m1i, sd1 = nd$sd1i, n1 = nd$n1i, m2 = nd$m2i, sd2 = nd$sd2i, n2 = nd$n2i,
                    yi = c(smd$yi), vi = c(smd$vi), fits = fits(smd$yi, smd$vi),
                    qprofile = qprofile(smd$yi, smd$vi), leave1out = loo(smd$yi, smd$vi, "PM"),
                    trimfill = tf(smd$yi, smd$vi, "DL"))

# 3. Correlations (Molloy et al. 2014), Fisher z
mol <- escalc("ZCOR", ri = ri, ni = ni, data = dat.molloy2014)
ref$molloy <- list(ri = dat.molloy2014$ri, ni = dat.molloy2014$ni, yi = c(mol$yi), vi = c(mol$vi),
                   fits = fits(mol$yi, mol$vi), qprofile = qprofile(mol$yi, mol$vi),
                   egger = egger(mol$yi, mol$vi), trimfill = tf(mol$yi, mol$vi),
                   leave1out = loo(mol$yi, mol$vi))

# 4. Pre-post cases (illustrative inputs chosen for the formula check, not data from a study)
pp <- data.frame(m_pre = c(30.1, 25.4, 41.0, 18.2, 22.7), m_post = c(26.3, 24.9, 35.5, 19.0, 17.1),
                 sd_pre = c(6.2, 5.1, 9.4, 4.0, 7.7), sd_post = c(6.8, 5.5, 8.1, 4.4, 6.9),
                 n = c(40, 25, 120, 15, 64), r = c(0.5, 0.3, 0.7, 0.6, 0.45))
smcr <- escalc("SMCR", m1i = m_post, m2i = m_pre, sd1i = sd_pre, ni = n, ri = r, data = pp)
smcc <- escalc("SMCC", m1i = m_post, m2i = m_pre, sd1i = sd_post, sd2i = sd_pre, ni = n, ri = r, data = pp)
ref$prepost <- c(as.list(pp), list(smcr_yi = c(smcr$yi), smcr_vi = c(smcr$vi),
                                   smcc_yi = c(smcc$yi), smcc_vi = c(smcc$vi),
                                   fits = fits(smcr$yi, smcr$vi)))

# 5. A homogeneous set where DerSimonian-Laird tau2 is 0 (Hine et al. 1989, risk differences)
hine <- escalc("RD", ai = ai, n1i = n1i, ci = ci, n2i = n2i, data = dat.hine1989)
ref$hine <- list(yi = c(hine$yi), vi = c(hine$vi), fits = fits(hine$yi, hine$vi))

# 6. Standardised mean differences, teacher expectancy (Raudenbush 1985): a trim-and-fill case
rb <- dat.raudenbush1985
ref$raudenbush <- list(yi = c(rb$yi), vi = c(rb$vi), fits = fits(rb$yi, rb$vi),
                       trimfill = tf(rb$yi, rb$vi), egger = egger(rb$yi, rb$vi),
                       weeks = rb$weeks, metareg = metareg(rb$yi, rb$vi, rb$weeks, method = "ML"))

write_json(ref, "tests/reference/metafor_reference.json", digits = NA, auto_unbox = TRUE, pretty = TRUE)
cat("wrote tests/reference/metafor_reference.json with metafor", ref$metafor_version, "\n")
