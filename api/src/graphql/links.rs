//! Computed fields of the object types: their enums and the links both ways
//! (`Image.scienceFile/backgroundFile/flare`, `ScienceFile.images/flares`,
//! `Flare.scienceFiles/images`), with per-row lookups batched by the DataLoader.

use super::AppState;
use super::enums::{Algorithm, FlareSource, ImageKind, LocationSource, ProductKind};
use super::error::ApiError;
use super::lightcurve::{EnergyBandInput, LightCurve, LightCurveCache};
use super::loaders::{
    FilesOfFlare, FlareRow, FlaresOfFile, ImageCenterOf, ImageCountOf, LoadError, Loaders,
    ScienceFileRow, SkipsOf,
};
use super::query::{ImageFilter, ImageOrder, Page, PageArgs, image_page, page_cost};
use super::types::{Flare, HpcPosition, Image, PreviewSkip, ScienceFile};
use async_graphql::{ComplexObject, Context};
use jobs::store::entities::image;
use sea_orm::{ColumnTrait, Condition, EntityTrait};

fn loaders<'a>(ctx: &'a Context<'_>) -> async_graphql::Result<&'a Loaders> {
    ctx.data::<Loaders>()
}

fn load_err(e: LoadError) -> async_graphql::Error {
    ApiError::Internal(format!("database: {e}")).into()
}

fn stored<T>(what: &str, value: &str, parsed: Option<T>) -> async_graphql::Result<T> {
    parsed.ok_or_else(|| {
        ApiError::Internal(format!("unknown {what} '{value}' in the database")).into()
    })
}

#[ComplexObject]
impl Image {
    /// The FITS map (`/files/images/{id}.fits`, absolute).
    async fn fits_url(&self, ctx: &Context<'_>) -> async_graphql::Result<String> {
        Ok(super::urls::state(ctx)?.links.image_fits(&self.public_id))
    }

    /// The PNG quick-look (`/files/images/{id}.png`, absolute).
    async fn png_url(&self, ctx: &Context<'_>) -> async_graphql::Result<String> {
        Ok(super::urls::state(ctx)?.links.image_png(&self.public_id))
    }

    /// The Python reproduction script (`/scripts/images/{id}.py`, absolute).
    async fn python_script_url(&self, ctx: &Context<'_>) -> async_graphql::Result<String> {
        Ok(super::urls::state(ctx)?.links.image_python(&self.public_id))
    }

    /// The IDL reproduction procedure (`/scripts/images/{id}.pro`, absolute).
    async fn idl_script_url(&self, ctx: &Context<'_>) -> async_graphql::Result<String> {
        Ok(super::urls::state(ctx)?.links.image_idl(&self.public_id))
    }

    /// The algorithm that made it.
    async fn algorithm(&self) -> async_graphql::Result<Algorithm> {
        stored(
            "algorithm",
            &self.algorithm_db,
            Algorithm::from_db(&self.algorithm_db),
        )
    }

    /// Preview or user image.
    async fn kind(&self) -> async_graphql::Result<ImageKind> {
        stored(
            "image kind",
            &self.kind_db,
            ImageKind::from_db(&self.kind_db),
        )
    }

    /// The science file it was made from.
    async fn science_file(&self, ctx: &Context<'_>) -> async_graphql::Result<ScienceFile> {
        let m = loaders(ctx)?
            .load_one(ScienceFileRow(self.science_file_row))
            .await
            .map_err(load_err)?;
        Ok(stored("science file row", &self.science_file_row.to_string(), m)?.into())
    }

    /// The background file subtracted, if any.
    async fn background_file(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<ScienceFile>> {
        let Some(row) = self.background_file_row else {
            return Ok(None);
        };
        let m = loaders(ctx)?
            .load_one(ScienceFileRow(row))
            .await
            .map_err(load_err)?;
        Ok(m.map(ScienceFile::from))
    }

    /// The flare it shows, if any.
    async fn flare(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Flare>> {
        let Some(row) = self.flare_row else {
            return Ok(None);
        };
        let m = loaders(ctx)?
            .load_one(FlareRow(row))
            .await
            .map_err(load_err)?;
        Ok(m.map(Flare::from))
    }

    /// The newer preview that replaces this one (the file was reprocessed, or a newer version
    /// of it arrived); null while it is current. A superseded image stays downloadable.
    async fn superseded_by(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Image>> {
        let Some(row) = self.superseded_by_row else {
            return Ok(None);
        };
        let st = ctx.data::<AppState>()?;
        let m = image::Entity::find_by_id(row)
            .one(&st.db)
            .await
            .map_err(ApiError::from)?;
        Ok(m.map(Image::from))
    }
}

#[ComplexObject]
impl ScienceFile {
    /// This very version of the file (`/files/science/{uid}.fits?version=N`, absolute).
    async fn download_url(&self, ctx: &Context<'_>) -> async_graphql::Result<String> {
        Ok(super::urls::state(ctx)?
            .links
            .science_file(self.request_uid.0, self.version))
    }

    /// What the file holds.
    async fn product_kind(&self) -> async_graphql::Result<ProductKind> {
        stored(
            "product kind",
            &self.product_kind_db,
            ProductKind::from_db(&self.product_kind_db),
        )
    }

    /// Images made from this file, newest first unless `orderBy` says otherwise.
    #[graphql(complexity = "page_cost(first, last) * child_complexity + 1")]
    #[allow(clippy::too_many_arguments)]
    async fn images(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        filter: Option<ImageFilter>,
        order_by: Option<ImageOrder>,
    ) -> async_graphql::Result<Page<Image>> {
        let args = PageArgs {
            first,
            after,
            last,
            before,
        };
        let here = Condition::all().add(image::Column::ScienceFileId.eq(self.row_id));
        image_page(ctx, filter, Some(here), order_by, &args).await
    }

    /// Counts per time bin in each band, summed over detectors and pixels, with count rates
    /// and live-time-corrected rates; `binSeconds` groups the file's bins into slots of that
    /// width (default: the file's own bins). Pixel-data files only; cached after the first
    /// call.
    async fn light_curve(
        &self,
        ctx: &Context<'_>,
        bands: Vec<EnergyBandInput>,
        bin_seconds: Option<f64>,
    ) -> async_graphql::Result<LightCurve> {
        let st = ctx.data::<AppState>()?;
        let kind = ProductKind::from_db(&self.product_kind_db);
        if !matches!(
            kind,
            Some(ProductKind::FlarePixelData | ProductKind::Background)
        ) {
            return Err(ApiError::BadUserInput(
                "light curves exist for pixel-data files only".into(),
            )
            .into());
        }
        let cache = ctx.data::<LightCurveCache>()?;
        let path = st
            .storage
            .local_path(&self.stored_path)
            .await
            .map_err(|e| ApiError::Internal(format!("light curve of {}: {e}", self.stored_path)))?;
        let lc = cache
            .get_or_compute(&path, &self.sha256, bands, bin_seconds)
            .await?;
        Ok((*lc).clone())
    }

    /// The flares this file covers, by peak time.
    async fn flares(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Flare>> {
        let v = loaders(ctx)?
            .load_one(FlaresOfFile(self.row_id))
            .await
            .map_err(load_err)?
            .unwrap_or_default();
        Ok(v.into_iter().map(Flare::from).collect())
    }
}

#[ComplexObject]
impl Flare {
    /// Where the flare came from.
    async fn source(&self) -> async_graphql::Result<FlareSource> {
        stored(
            "flare source",
            &self.source_db,
            FlareSource::from_db(&self.source_db),
        )
    }

    /// Location, helioprojective as seen from Solar Orbiter: the flare list's, else the one
    /// the previews computed (the centre of its images); null only while neither exists.
    async fn location(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<HpcPosition>> {
        if let Some(p) = &self.location_stored {
            return Ok(Some(p.clone()));
        }
        let c = loaders(ctx)?
            .load_one(ImageCenterOf(self.row_id))
            .await
            .map_err(load_err)?;
        Ok(c.map(|(x, y)| HpcPosition {
            x_arcsec: x,
            y_arcsec: y,
        }))
    }

    /// Where `location` came from: `FLARE_LIST` or `STIX_IMAGING` (null without a location).
    async fn location_source(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<LocationSource>> {
        if self.location_stored.is_some() {
            return Ok(match &self.location_source_db {
                Some(s) => Some(stored("location source", s, LocationSource::from_db(s))?),
                None => Some(LocationSource::FlareList),
            });
        }
        let c = loaders(ctx)?
            .load_one(ImageCenterOf(self.row_id))
            .await
            .map_err(load_err)?;
        Ok(c.map(|_| LocationSource::StixImaging))
    }

    /// Preview images that were planned but not made, with the reason.
    async fn preview_skips(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<PreviewSkip>> {
        let v = loaders(ctx)?
            .load_one(SkipsOf(self.row_id))
            .await
            .map_err(load_err)?
            .unwrap_or_default();
        Ok(v.into_iter().map(PreviewSkip::from).collect())
    }

    /// Number of images of this flare in the archive.
    async fn image_count(&self, ctx: &Context<'_>) -> async_graphql::Result<i64> {
        Ok(loaders(ctx)?
            .load_one(ImageCountOf(self.row_id))
            .await
            .map_err(load_err)?
            .unwrap_or(0))
    }

    /// The science files covering this flare, by observation start.
    async fn science_files(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<ScienceFile>> {
        let v = loaders(ctx)?
            .load_one(FilesOfFlare(self.row_id))
            .await
            .map_err(load_err)?
            .unwrap_or_default();
        Ok(v.into_iter().map(ScienceFile::from).collect())
    }

    /// Images of this flare, newest first unless `orderBy` says otherwise.
    #[graphql(complexity = "page_cost(first, last) * child_complexity + 1")]
    #[allow(clippy::too_many_arguments)]
    async fn images(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        filter: Option<ImageFilter>,
        order_by: Option<ImageOrder>,
    ) -> async_graphql::Result<Page<Image>> {
        let args = PageArgs {
            first,
            after,
            last,
            before,
        };
        let here = Condition::all().add(image::Column::FlareId.eq(self.row_id));
        image_page(ctx, filter, Some(here), order_by, &args).await
    }
}
